package main

import (
	"bytes"
	"crypto/sha1"
	"encoding/base64"
	"strings"
	"testing"

	"github.com/zkraft/zkraft/ensemble"
	"github.com/zkraft/zkraft/ensemble/ensembletest"
)

func runMembers(t *testing.T, args ...string) (string, error) {
	t.Helper()
	cmd := membersCmd()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs(args)
	err := cmd.Execute()
	return out.String(), err
}

func TestMembersAddRemove(t *testing.T) {
	sum := sha1.Sum([]byte("super:secret"))
	cl := ensembletest.RunCluster(t, 3, ensembletest.WithConfig(func(c *ensemble.Config) {
		c.ReconfigEnabled = true
		c.SuperDigest = "super:" + base64.StdEncoding.EncodeToString(sum[:])
	}))
	server := strings.Join(cl.Addrs(), ",")
	out, err := runMembers(t, "--server", server)
	if err != nil || !strings.Contains(out, "server.3=") {
		t.Fatalf("members: %v\n%s", err, out)
	}
	if _, err := runMembers(t, "--server", server, "remove", "3"); err == nil {
		t.Fatal("remove without super rights succeeded")
	}
	line, wait := cl.StartJoiner(false)
	out, err = runMembers(t, "--server", server, "--auth", "super:secret", "add", line)
	if err != nil || !strings.Contains(out, "server.4=") {
		t.Fatalf("members add: %v\n%s", err, out)
	}
	wait()
	out, err = runMembers(t, "--server", server, "--auth", "super:secret", "remove", "4")
	if err != nil || strings.Contains(out, "server.4=") {
		t.Fatalf("members remove: %v\n%s", err, out)
	}
}
