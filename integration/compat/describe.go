package compat

import (
	"crypto/sha256"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/zkraft/zkraft/zkproto"
)

// A Describer renders requests, replies, Stats and events as transcript text that
// does not depend on which server answered: the namespace root reads /R, session ids
// are named in order of appearance (s1, s2...), times are only checked against the
// run's clock, and zxids go through Zxid and RelZxid. The scenario runner ranks zxids
// when a run ends; the fuzzer (integration/fuzz) labels them as it goes.
type Describer struct {
	// Root is the namespace root, written /R.
	Root string
	// SuperPassword is written <super-password> in auth requests.
	SuperPassword string
	// Start is when the run began: Stat times must lie between it and now.
	Start time.Time
	// Zxid renders a zxid that names a transaction (a Stat's, a write's reply).
	Zxid func(zkproto.Zxid) string
	// RelZxid renders a zxid that is only compared with the ones seen so far (a
	// read's reply, a failed write's).
	RelZxid  func(zkproto.Zxid) string
	sessions map[zkproto.SessionID]string
}

// AddSession names a session id (s1, s2... in order of appearance) unless it has a name.
func (d *Describer) AddSession(id zkproto.SessionID) {
	if id == 0 {
		return
	}
	if d.sessions == nil {
		d.sessions = map[zkproto.SessionID]string{}
	}
	if _, ok := d.sessions[id]; !ok {
		d.sessions[id] = fmt.Sprintf("s%d", len(d.sessions)+1)
	}
}

// Norm replaces the namespace root by /R.
func (d *Describer) Norm(s string) string { return strings.ReplaceAll(s, d.Root, "/R") }

// SID names a session id by its order of appearance in the run.
func (d *Describer) SID(id zkproto.SessionID) string {
	if id == 0 {
		return "0"
	}
	if s, ok := d.sessions[id]; ok {
		return s
	}
	return "other"
}

func ErrName(e zkproto.ErrCode) string {
	if e == 0 {
		return "OK"
	}
	return fmt.Sprintf("%d(%s)", int32(e), strings.TrimPrefix(e.Error(), "zk: "))
}

func EventName(t zkproto.EventType) string {
	switch t {
	case zkproto.EventNone:
		return "None"
	case zkproto.EventNodeCreated:
		return "NodeCreated"
	case zkproto.EventNodeDeleted:
		return "NodeDeleted"
	case zkproto.EventNodeDataChanged:
		return "NodeDataChanged"
	case zkproto.EventNodeChildrenChanged:
		return "NodeChildrenChanged"
	case zkproto.EventDataWatchRemoved:
		return "DataWatchRemoved"
	case zkproto.EventChildWatchRemoved:
		return "ChildWatchRemoved"
	case zkproto.EventPersistentWatchRemoved:
		return "PersistentWatchRemoved"
	}
	return fmt.Sprintf("event(%d)", t)
}

func (d *Describer) Stat(s zkproto.Stat) string {
	return fmt.Sprintf("{c=%s m=%s p=%s v=%d cv=%d av=%d owner=%s len=%d n=%d t=%s}",
		d.Zxid(s.Czxid), d.Zxid(s.Mzxid), d.Zxid(s.Pzxid), s.Version, s.Cversion, s.Aversion,
		d.Owner(s.EphemeralOwner), s.DataLength, s.NumChildren, d.Times(s.Ctime, s.Mtime))
}

func (d *Describer) Owner(o int64) string {
	switch {
	case o == 0:
		return "0"
	case o == zkproto.ContainerEphemeralOwner:
		return "container"
	case o&zkproto.TTLEphemeralOwnerMask == zkproto.TTLEphemeralOwnerMask:
		return fmt.Sprintf("ttl(%d)", o&^zkproto.TTLEphemeralOwnerMask)
	}
	return d.SID(zkproto.SessionID(o))
}

// Times checks ctime and mtime against the run's wall clock: both within the run,
// ctime ≤ mtime.
func (d *Describer) Times(ctime, mtime int64) string {
	lo, hi := d.Start.Add(-2*time.Second).UnixMilli(), time.Now().Add(2*time.Second).UnixMilli()
	in := func(t int64) string {
		switch {
		case t == 0:
			return "0"
		case t < lo:
			return "old"
		case t > hi:
			return "future"
		}
		return "now"
	}
	s := in(ctime) + "/" + in(mtime)
	if ctime > mtime {
		s += "(ctime>mtime)"
	}
	return s
}

func acls(v []zkproto.ACL) string {
	parts := make([]string, len(v))
	for i, a := range v {
		parts[i] = fmt.Sprintf("%d:%s:%s", a.Perms, a.ID.Scheme, a.ID.ID)
	}
	return "[" + strings.Join(parts, ",") + "]"
}

func data(b []byte) string {
	if b == nil {
		return "nil"
	}
	if len(b) > 48 {
		h := sha256.Sum256(b)
		return fmt.Sprintf("<%d bytes %x>", len(b), h[:6])
	}
	return strconv.Quote(string(b))
}

func (d *Describer) strs(v []string, sorted bool) string {
	if v == nil {
		return "nil"
	}
	c := slices.Clone(v)
	if sorted {
		slices.Sort(c)
	}
	for i := range c {
		c[i] = strconv.Quote(c[i])
	}
	return "[" + strings.Join(c, ",") + "]"
}

func (d *Describer) Request(req zkproto.Record) string {
	switch q := req.(type) {
	case nil:
		return ""
	case *zkproto.CreateRequest:
		return fmt.Sprintf("(%q %s %s mode=%d)", q.Path, data(q.Data), acls(q.ACL), q.Flags)
	case *zkproto.CreateTTLRequest:
		return fmt.Sprintf("(%q %s %s mode=%d ttl=%d)", q.Path, data(q.Data), acls(q.ACL), q.Flags, q.TTL)
	case *zkproto.DeleteRequest:
		return fmt.Sprintf("(%q v=%d)", q.Path, q.Version)
	case *zkproto.ExistsRequest:
		return fmt.Sprintf("(%q watch=%v)", q.Path, q.Watch)
	case *zkproto.GetDataRequest:
		return fmt.Sprintf("(%q watch=%v)", q.Path, q.Watch)
	case *zkproto.SetDataRequest:
		return fmt.Sprintf("(%q %s v=%d)", q.Path, data(q.Data), q.Version)
	case *zkproto.GetACLRequest:
		return fmt.Sprintf("(%q)", q.Path)
	case *zkproto.SetACLRequest:
		return fmt.Sprintf("(%q %s v=%d)", q.Path, acls(q.ACL), q.Version)
	case *zkproto.GetChildrenRequest:
		return fmt.Sprintf("(%q watch=%v)", q.Path, q.Watch)
	case *zkproto.GetChildren2Request:
		return fmt.Sprintf("(%q watch=%v)", q.Path, q.Watch)
	case *zkproto.SyncRequest:
		return fmt.Sprintf("(%q)", q.Path)
	case *zkproto.CheckVersionRequest:
		return fmt.Sprintf("(%q v=%d)", q.Path, q.Version)
	case *zkproto.CheckWatchesRequest:
		return fmt.Sprintf("(%q type=%d)", q.Path, q.Type)
	case *zkproto.RemoveWatchesRequest:
		return fmt.Sprintf("(%q type=%d)", q.Path, q.Type)
	case *zkproto.GetEphemeralsRequest:
		return fmt.Sprintf("(%q)", q.PrefixPath)
	case *zkproto.GetAllChildrenNumberRequest:
		return fmt.Sprintf("(%q)", q.Path)
	case *zkproto.AddWatchRequest:
		return fmt.Sprintf("(%q mode=%d)", q.Path, q.Mode)
	case *zkproto.AuthPacket:
		auth := string(q.Auth)
		if d.SuperPassword != "" && auth == "super:"+d.SuperPassword {
			// The password is the server's, not the scenario's: the same scenario
			// runs against servers with other super passwords.
			auth = "super:<super-password>"
		}
		return fmt.Sprintf("(type=%d %q %q)", q.Type, q.Scheme, auth)
	case *zkproto.SetWatches:
		return fmt.Sprintf("(rel=%s data=%v exist=%v child=%v)", d.RelZxid(q.RelativeZxid), q.DataWatches, q.ExistWatches, q.ChildWatches)
	case *zkproto.SetWatches2:
		return fmt.Sprintf("(rel=%s data=%v exist=%v child=%v persistent=%v recursive=%v)", d.RelZxid(q.RelativeZxid),
			q.DataWatches, q.ExistWatches, q.ChildWatches, q.PersistentWatches, q.PersistentRecursiveWatches)
	case *zkproto.MultiRequest:
		parts := make([]string, len(q.Ops))
		for i, op := range q.Ops {
			parts[i] = op.Header.Type.String() + d.Request(op.Request)
		}
		return "{" + strings.Join(parts, "; ") + "}"
	case *rawRecord:
		if q.desc != "" {
			return "(raw " + q.desc + ")"
		}
		return fmt.Sprintf("(raw %d bytes)", len(q.b))
	}
	return fmt.Sprintf("(%T)", req)
}

func (d *Describer) Response(resp zkproto.Record) string {
	switch p := resp.(type) {
	case *zkproto.CreateResponse:
		return fmt.Sprintf("path=%q", p.Path)
	case *zkproto.Create2Response:
		return fmt.Sprintf("path=%q stat=%s", p.Path, d.Stat(p.Stat))
	case *zkproto.ExistsResponse:
		return "stat=" + d.Stat(p.Stat)
	case *zkproto.GetDataResponse:
		return fmt.Sprintf("data=%s stat=%s", data(p.Data), d.Stat(p.Stat))
	case *zkproto.SetDataResponse:
		return "stat=" + d.Stat(p.Stat)
	case *zkproto.GetACLResponse:
		return fmt.Sprintf("acl=%s stat=%s", acls(p.ACL), d.Stat(p.Stat))
	case *zkproto.SetACLResponse:
		return "stat=" + d.Stat(p.Stat)
	case *zkproto.GetChildrenResponse:
		return "children=" + d.strs(p.Children, true)
	case *zkproto.GetChildren2Response:
		return fmt.Sprintf("children=%s stat=%s", d.strs(p.Children, true), d.Stat(p.Stat))
	case *zkproto.SyncResponse:
		return fmt.Sprintf("path=%q", p.Path)
	case *zkproto.GetEphemeralsResponse:
		return "ephemerals=" + d.strs(p.Ephemerals, true)
	case *zkproto.GetAllChildrenNumberResponse:
		return fmt.Sprintf("total=%d", p.TotalNumber)
	case *zkproto.ErrorResponse:
		return fmt.Sprintf("errbody=%d", p.Err)
	case *zkproto.WhoAmIResponse:
		parts := make([]string, len(p.ClientInfo))
		for i, ci := range p.ClientInfo {
			parts[i] = ci.AuthScheme + ":" + ci.User
		}
		slices.Sort(parts)
		return "whoami=[" + strings.Join(parts, ",") + "]"
	case *zkproto.MultiResponse:
		parts := make([]string, len(p.Results))
		for i, res := range p.Results {
			s := fmt.Sprintf("%s/%s", res.Header.Type, ErrName(res.Header.Err))
			if res.Response != nil {
				s += " " + d.Response(res.Response)
			}
			parts[i] = s
		}
		return "results={" + strings.Join(parts, "; ") + "}"
	}
	return fmt.Sprintf("%T", resp)
}

// Reply decodes the body of a reply to op (h is its header; dec is after the header)
// and renders it: the error, the zxid, the body. A successful write's zxid names its
// transaction; any other reply's zxid is only compared with the newest seen so far.
func (d *Describer) Reply(op zkproto.OpCode, h zkproto.ReplyHeader, dec *zkproto.Decoder) (string, zkproto.Record) {
	var resp zkproto.Record
	body := ""
	if h.Err == zkproto.ErrOK || op == zkproto.OpMulti || op == zkproto.OpMultiRead {
		resp, _ = zkproto.NewResponse(op)
	}
	if resp != nil && (dec.Remaining() > 0 || h.Err == 0) {
		resp.Decode(dec)
		body = " " + d.Response(resp)
	}
	// A failed multi (header OK on ZooKeeper 3.8.0, error results) is a failed
	// write: ZooKeeper spends a zxid on it, zkraft does not (by design).
	zx := " zxid" + d.RelZxid(h.Zxid)
	if h.Err == zkproto.ErrOK && (op.IsWrite() && op != zkproto.OpCheck) && !failedMulti(resp) {
		zx = " zxid=" + d.Zxid(h.Zxid)
	}
	return ErrName(h.Err) + zx + body + decodeErr(dec), resp
}

// Event decodes a watch event (dec is after the reply header) and renders it.
func (d *Describer) Event(dec *zkproto.Decoder) string {
	var ev zkproto.WatcherEvent
	ev.Decode(dec)
	return fmt.Sprintf("event %s state=%d %s%s", EventName(ev.Type), ev.State, d.Norm(ev.Path), decodeErr(dec))
}

func failedMulti(resp zkproto.Record) bool {
	mr, ok := resp.(*zkproto.MultiResponse)
	if !ok {
		return false
	}
	for _, res := range mr.Results {
		if res.Header.Type == zkproto.OpError {
			return true
		}
	}
	return false
}
