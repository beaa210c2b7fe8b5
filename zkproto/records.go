package zkproto

// The records of zookeeper.jute (3.8) that clients see, named as in jute so Java
// and Go grep alike. Each implements Record with hand-written, bounds-checked code
// (see codec.go); there is no reflection on the request path.

// Id is an ACL identity: scheme (world, auth, digest, ip, super, sasl, x509) and id.
type Id struct {
	Scheme string
	ID     string
}

// ACL grants Perms (PermRead...) to an identity.
type ACL struct {
	Perms int32
	ID    Id
}

// Stat is a znode's metadata as clients see it.
type Stat struct {
	Czxid          Zxid
	Mzxid          Zxid
	Ctime          int64 // ms since the epoch
	Mtime          int64
	Version        int32
	Cversion       int32
	Aversion       int32
	EphemeralOwner int64
	DataLength     int32
	NumChildren    int32
	Pzxid          Zxid
}

// ConnectRequest opens or resumes a session. It has no RequestHeader. Older clients
// omit ReadOnly; HasReadOnly records whether it was on the wire.
type ConnectRequest struct {
	ProtocolVersion int32
	LastZxidSeen    Zxid
	TimeOut         int32
	SessionID       SessionID
	Passwd          []byte
	ReadOnly        bool
	HasReadOnly     bool
}

// ConnectResponse answers a ConnectRequest; ReadOnly is written only if HasReadOnly.
type ConnectResponse struct {
	ProtocolVersion int32
	TimeOut         int32
	SessionID       SessionID
	Passwd          []byte
	ReadOnly        bool
	HasReadOnly     bool
}

type RequestHeader struct {
	Xid  Xid
	Type OpCode
}

type ReplyHeader struct {
	Xid  Xid
	Zxid Zxid
	Err  ErrCode
}

type MultiHeader struct {
	Type OpCode
	Done bool
	Err  ErrCode
}

type AuthPacket struct {
	Type   int32
	Scheme string
	Auth   []byte
}

type SetWatches struct {
	RelativeZxid Zxid
	DataWatches  []string
	ExistWatches []string
	ChildWatches []string
}

type SetWatches2 struct {
	RelativeZxid               Zxid
	DataWatches                []string
	ExistWatches               []string
	ChildWatches               []string
	PersistentWatches          []string
	PersistentRecursiveWatches []string
}

type CreateRequest struct {
	Path  string
	Data  []byte
	ACL   []ACL
	Flags CreateMode
}

type CreateTTLRequest struct {
	Path  string
	Data  []byte
	ACL   []ACL
	Flags CreateMode
	TTL   int64
}

type CreateResponse struct{ Path string }

type Create2Response struct {
	Path string
	Stat Stat
}

type DeleteRequest struct {
	Path    string
	Version int32
}

type ExistsRequest struct {
	Path  string
	Watch bool
}

type ExistsResponse struct{ Stat Stat }

type GetDataRequest struct {
	Path  string
	Watch bool
}

type GetDataResponse struct {
	Data []byte
	Stat Stat
}

type SetDataRequest struct {
	Path    string
	Data    []byte
	Version int32
}

type SetDataResponse struct{ Stat Stat }

type GetACLRequest struct{ Path string }

type GetACLResponse struct {
	ACL  []ACL
	Stat Stat
}

type SetACLRequest struct {
	Path    string
	ACL     []ACL
	Version int32
}

type SetACLResponse struct{ Stat Stat }

type GetChildrenRequest struct {
	Path  string
	Watch bool
}

type GetChildrenResponse struct{ Children []string }

type GetChildren2Request struct {
	Path  string
	Watch bool
}

type GetChildren2Response struct {
	Children []string
	Stat     Stat
}

type SyncRequest struct{ Path string }

type SyncResponse struct{ Path string }

type CheckVersionRequest struct {
	Path    string
	Version int32
}

type ReconfigRequest struct {
	JoiningServers string
	LeavingServers string
	NewMembers     string
	CurConfigID    int64
}

type CheckWatchesRequest struct {
	Path string
	Type int32
}

type RemoveWatchesRequest struct {
	Path string
	Type int32
}

type GetEphemeralsRequest struct{ PrefixPath string }

type GetEphemeralsResponse struct{ Ephemerals []string }

type GetAllChildrenNumberRequest struct{ Path string }

type GetAllChildrenNumberResponse struct{ TotalNumber int32 }

type AddWatchRequest struct {
	Path string
	Mode int32
}

type WatcherEvent struct {
	Type  EventType
	State KeeperState
	Path  string
}

type ErrorResponse struct{ Err ErrCode }

type GetSASLRequest struct{ Token []byte }

type SetSASLResponse struct{ Token []byte }

// ClientInfo is one identity in a WhoAmIResponse.
type ClientInfo struct {
	AuthScheme string
	User       string
}

type WhoAmIResponse struct{ ClientInfo []ClientInfo }

// MultiOp is one operation of a multi or multiRead request: Header.Type selects the
// concrete request (CreateRequest, CreateTTLRequest, DeleteRequest, SetDataRequest,
// CheckVersionRequest; GetDataRequest, GetChildrenRequest for multiRead).
type MultiOp struct {
	Header  MultiHeader
	Request Record
}

// MultiRequest is the body of OpMulti and OpMultiRead: ops until a header with Done.
type MultiRequest struct {
	Ops []MultiOp
}

// MultiResult is one result of a multi: Header.Type is the op's type (OpError with
// Header.Err set for a failure) and Response its body (nil for delete and check).
type MultiResult struct {
	Header   MultiHeader
	Response Record
}

type MultiResponse struct {
	Results []MultiResult
}
