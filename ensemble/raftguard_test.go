package ensemble

import (
	"errors"
	"testing"

	"github.com/hashicorp/raft"
)

// checkRPC passes what hashicorp/raft handles and refuses what makes it panic.
func TestCheckRPC(t *testing.T) {
	conf := raft.EncodeConfiguration(raft.Configuration{Servers: []raft.Server{{ID: "1", Address: "127.0.0.1:1"}}})
	entry := func(i, term uint64, typ raft.LogType, data []byte) *raft.Log {
		return &raft.Log{Index: i, Term: term, Type: typ, Data: data}
	}
	for _, tc := range []struct {
		name string
		cmd  any
		ok   bool
	}{
		{"heartbeat", &raft.AppendEntriesRequest{Term: 3, PrevLogEntry: 9, PrevLogTerm: 3}, true},
		{"entries in order", &raft.AppendEntriesRequest{Term: 3, PrevLogEntry: 9, Entries: []*raft.Log{
			entry(10, 2, raft.LogCommand, nil), entry(11, 3, raft.LogNoop, nil), entry(12, 3, raft.LogConfiguration, conf), entry(13, 3, raft.LogBarrier, nil)}}, true},
		{"gap after PrevLogEntry", &raft.AppendEntriesRequest{Term: 3, PrevLogEntry: 9, Entries: []*raft.Log{entry(11, 3, raft.LogCommand, nil)}}, false},
		{"index repeated", &raft.AppendEntriesRequest{Term: 3, PrevLogEntry: 9, Entries: []*raft.Log{entry(10, 3, raft.LogCommand, nil), entry(10, 3, raft.LogCommand, nil)}}, false},
		{"entry of a later term than the request", &raft.AppendEntriesRequest{Term: 3, PrevLogEntry: 9, Entries: []*raft.Log{entry(10, 4, raft.LogCommand, nil)}}, false},
		{"terms going back", &raft.AppendEntriesRequest{Term: 3, PrevLogEntry: 9, Entries: []*raft.Log{entry(10, 3, raft.LogCommand, nil), entry(11, 2, raft.LogCommand, nil)}}, false},
		{"nil entry", &raft.AppendEntriesRequest{Term: 3, PrevLogEntry: 9, Entries: []*raft.Log{nil}}, false},
		{"unknown type", &raft.AppendEntriesRequest{Term: 3, PrevLogEntry: 9, Entries: []*raft.Log{entry(10, 3, raft.LogType(99), nil)}}, false},
		{"deprecated peer change", &raft.AppendEntriesRequest{Term: 3, PrevLogEntry: 9, Entries: []*raft.Log{entry(10, 3, raft.LogAddPeerDeprecated, nil)}}, false},
		{"bad configuration", &raft.AppendEntriesRequest{Term: 3, PrevLogEntry: 9, Entries: []*raft.Log{entry(10, 3, raft.LogConfiguration, []byte{0xc1})}}, false},
		{"snapshot", &raft.InstallSnapshotRequest{SnapshotVersion: 1, Size: 10, Configuration: conf}, true},
		{"snapshot, bad configuration", &raft.InstallSnapshotRequest{SnapshotVersion: 1, Size: 10, Configuration: []byte{0xc1}}, false},
		{"snapshot, negative size", &raft.InstallSnapshotRequest{SnapshotVersion: 1, Size: -1, Configuration: conf}, false},
		{"vote", &raft.RequestVoteRequest{Term: 1 << 40}, true},
	} {
		err := checkRPC(tc.cmd)
		if tc.ok && err != nil || !tc.ok && !errors.Is(err, errMalformedRPC) {
			t.Errorf("%s: %v, want ok %v", tc.name, err, tc.ok)
		}
	}
}

// BenchmarkCheckRPC: the check of an AppendEntries of 64 entries, Raft's usual batch.
func BenchmarkCheckRPC(b *testing.B) {
	req := &raft.AppendEntriesRequest{Term: 3, PrevLogEntry: 9}
	for i := range 64 {
		req.Entries = append(req.Entries, &raft.Log{Index: uint64(10 + i), Term: 3, Type: raft.LogCommand, Data: make([]byte, 100)})
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := checkRPC(req); err != nil {
			b.Fatal(err)
		}
	}
}
