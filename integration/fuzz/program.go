package fuzz

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"github.com/zkraft/zkraft/integration/compat"
	"github.com/zkraft/zkraft/zkproto"
)

// A Program is the fuzzer's unit of work: steps run in order, each on one session
// slot. Any subsequence of a Program is a Program (sessions connect on first use
// and resume after a drop), which is what shrinking relies on.
type Program struct {
	Steps []Step `json:"steps"`
}

// Step kinds.
const (
	// KindOps sends Ops on the slot's connection back to back (pipelined: every
	// request is written before any reply is read) and reads the replies.
	KindOps = "ops"
	// KindClose closes the slot's session (closeSession); its next use opens a new one.
	KindClose = "close"
	// KindDrop closes the slot's socket, leaving the session; its next use resumes it.
	KindDrop = "drop"
	// KindExpire drops the socket and waits until the server has expired the session.
	KindExpire = "expire"
	// KindTree compares the whole namespace (data, Stats, ACLs, children).
	KindTree = "tree"
)

// A Step is one action on one session slot.
type Step struct {
	Slot int    `json:"s"`
	Kind string `json:"k"`
	Ops  []Op   `json:"ops,omitempty"`
}

// An Op is one request, in a form that reads well in a repro file. Paths are
// relative to the run's namespace root ("" is the root itself).
type Op struct {
	Code zkproto.OpCode `json:"op"`
	Path string         `json:"path,omitempty"`
	// Data is the data of create/setData: Data repeated to Size bytes when Size
	// is set; nil (a -1 length on the wire) when Nil.
	Data string `json:"data,omitempty"`
	Size int    `json:"size,omitempty"`
	Nil  bool   `json:"nil,omitempty"`
	ACL  []ACL  `json:"acl,omitempty"`
	// Mode is the create mode, addWatch's mode, or the watcher type of
	// checkWatches/removeWatches.
	Mode    int32 `json:"mode,omitempty"`
	TTL     int64 `json:"ttl,omitempty"`
	Version int32 `json:"v,omitempty"`
	Watch   bool  `json:"watch,omitempty"`
	// Auth is addauth's "scheme:credential"; $super stands for the super password.
	Auth string `json:"auth,omitempty"`
	// Sub are the ops of a multi or multiRead.
	Sub []Op `json:"sub,omitempty"`
	// Watches are setWatches' (or setWatches2's) lists: data, exist, child,
	// persistent, persistent-recursive; the relative zxid is the session's last seen.
	Watches [][]string `json:"watches,omitempty"`
}

// An ACL entry; ID "digest:u1" stands for u1's digest id (see users).
type ACL struct {
	Perms  int32  `json:"perms"`
	Scheme string `json:"scheme"`
	ID     string `json:"id"`
}

// The digest users sessions authenticate as, and their passwords.
var users = map[string]string{"u1": "p1", "u2": "p2"}

// xid returns the special xid the Java client uses for op, or 0 for "the next one".
func (o Op) xid() zkproto.Xid {
	switch o.Code {
	case zkproto.OpPing:
		return zkproto.XidPing
	case zkproto.OpAuth:
		return zkproto.XidAuth
	case zkproto.OpSetWatches, zkproto.OpSetWatches2:
		return zkproto.XidSetWatches
	}
	return 0
}

func (o Op) data() []byte {
	if o.Nil {
		return nil
	}
	if o.Size > 0 {
		d := bytes.Repeat([]byte(o.Data+"."), o.Size/(len(o.Data)+1)+1)
		return d[:o.Size]
	}
	return []byte(o.Data)
}

func (o Op) acl() []zkproto.ACL {
	if o.ACL == nil {
		return nil
	}
	out := make([]zkproto.ACL, len(o.ACL))
	for i, a := range o.ACL {
		id := a.ID
		if a.Scheme == "digest" {
			if pw, ok := users[id]; ok {
				id = compat.DigestID(id, pw)
			}
		}
		out[i] = zkproto.ACL{Perms: a.Perms, ID: zkproto.Id{Scheme: a.Scheme, ID: id}}
	}
	return out
}

// isWrite says whether op changes the tree (for the batching rules of the generator).
func (o Op) isWrite() bool {
	switch o.Code {
	case zkproto.OpCreate, zkproto.OpCreate2, zkproto.OpCreateContainer, zkproto.OpCreateTTL,
		zkproto.OpDelete, zkproto.OpSetData, zkproto.OpSetACL, zkproto.OpMulti:
		return true
	}
	return false
}

// request builds op's request record with paths under root; superPassword replaces
// $super in auth.
func (o Op) request(root, superPassword string) zkproto.Record {
	p := root + o.Path
	switch o.Code {
	case zkproto.OpCreate, zkproto.OpCreate2, zkproto.OpCreateContainer:
		return &zkproto.CreateRequest{Path: p, Data: o.data(), ACL: o.acl(), Flags: zkproto.CreateMode(o.Mode)}
	case zkproto.OpCreateTTL:
		return &zkproto.CreateTTLRequest{Path: p, Data: o.data(), ACL: o.acl(), Flags: zkproto.CreateMode(o.Mode), TTL: o.TTL}
	case zkproto.OpDelete, zkproto.OpDeleteContainer:
		return &zkproto.DeleteRequest{Path: p, Version: o.Version}
	case zkproto.OpExists:
		return &zkproto.ExistsRequest{Path: p, Watch: o.Watch}
	case zkproto.OpGetData:
		return &zkproto.GetDataRequest{Path: p, Watch: o.Watch}
	case zkproto.OpSetData:
		return &zkproto.SetDataRequest{Path: p, Data: o.data(), Version: o.Version}
	case zkproto.OpGetACL:
		return &zkproto.GetACLRequest{Path: p}
	case zkproto.OpSetACL:
		return &zkproto.SetACLRequest{Path: p, ACL: o.acl(), Version: o.Version}
	case zkproto.OpGetChildren:
		return &zkproto.GetChildrenRequest{Path: p, Watch: o.Watch}
	case zkproto.OpGetChildren2:
		return &zkproto.GetChildren2Request{Path: p, Watch: o.Watch}
	case zkproto.OpSync:
		return &zkproto.SyncRequest{Path: p}
	case zkproto.OpCheck:
		return &zkproto.CheckVersionRequest{Path: p, Version: o.Version}
	case zkproto.OpMulti, zkproto.OpMultiRead:
		m := &zkproto.MultiRequest{}
		for _, s := range o.Sub {
			m.Ops = append(m.Ops, zkproto.MultiOp{Header: zkproto.MultiHeader{Type: s.Code, Done: false, Err: -1}, Request: s.request(root, superPassword)})
		}
		return m
	case zkproto.OpReconfig:
		return &zkproto.ReconfigRequest{LeavingServers: o.Path, CurConfigID: -1}
	case zkproto.OpCheckWatches:
		return &zkproto.CheckWatchesRequest{Path: p, Type: o.Mode}
	case zkproto.OpRemoveWatches:
		return &zkproto.RemoveWatchesRequest{Path: p, Type: o.Mode}
	case zkproto.OpAuth:
		scheme, cred, _ := strings.Cut(o.Auth, ":")
		return &zkproto.AuthPacket{Scheme: scheme, Auth: []byte(strings.ReplaceAll(cred, "$super", superPassword))}
	case zkproto.OpSetWatches, zkproto.OpSetWatches2:
		w := make([][]string, 5)
		for i := range w {
			w[i] = []string{}
			if i < len(o.Watches) {
				for _, q := range o.Watches[i] {
					w[i] = append(w[i], root+q)
				}
			}
		}
		if o.Code == zkproto.OpSetWatches {
			return &zkproto.SetWatches{DataWatches: w[0], ExistWatches: w[1], ChildWatches: w[2]}
		}
		return &zkproto.SetWatches2{DataWatches: w[0], ExistWatches: w[1], ChildWatches: w[2],
			PersistentWatches: w[3], PersistentRecursiveWatches: w[4]}
	case zkproto.OpGetEphemerals:
		return &zkproto.GetEphemeralsRequest{PrefixPath: p}
	case zkproto.OpGetAllChildrenNumber:
		return &zkproto.GetAllChildrenNumberRequest{Path: p}
	case zkproto.OpAddWatch:
		return &zkproto.AddWatchRequest{Path: p, Mode: o.Mode}
	case zkproto.OpSASL:
		return &zkproto.GetSASLRequest{Token: []byte(o.Data)}
	}
	return nil // ping, whoAmI, and op codes without a body
}

// A Repro is a shrunk difference, as written to testdata/repro-*.json.
type Repro struct {
	// Target is "single" (one zkraft node) or "ensemble3" (three members).
	Target string `json:"target"`
	Seed   int64  `json:"seed"`
	// Class names a known difference ("fifo", "watch-acl") or is "new".
	Class string `json:"class"`
	// Expect is "same" once fixed (the replay is a regression test) or "differs"
	// while the difference is open (the replay checks it still reproduces, so that
	// its fix turns the file into a regression test: then set "same").
	Expect  string   `json:"expect"`
	Note    string   `json:"note,omitempty"`
	Diff    []string `json:"diff"`
	Program Program  `json:"program"`
}

// WriteRepro writes r to path as indented JSON.
func WriteRepro(path string, r Repro) error {
	b, err := json.MarshalIndent(r, "", " ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// ReadRepro reads a repro file.
func ReadRepro(path string) (Repro, error) {
	var r Repro
	b, err := os.ReadFile(path)
	if err != nil {
		return r, err
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return r, fmt.Errorf("%s: %w", path, err)
	}
	return r, nil
}
