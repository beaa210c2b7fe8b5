package compat

import (
	"errors"
	"fmt"
	"path"
	"strings"
	"time"

	"github.com/zkraft/zkraft/ensemble/ensembletest/rawzk"
	"github.com/zkraft/zkraft/zkproto"
)

// cleanup deletes the run's namespace, as every identity the scenarios use (and as
// super when the password is known), so that a scenario leaves nothing behind on a
// server that is not fresh. What an ACL keeps it from deleting is in the error.
func (r *run) cleanup() error {
	return DeleteTree(r.addr, r.root, r.super)
}

// DeleteTree deletes p and everything under it on the server at addr, on a session
// authenticated as the digest users of the scenarios (u1:p1, u2:p2) and, when
// superPassword is set, as super. A missing p is not an error; the error lists
// what could not be deleted, one node a line.
func DeleteTree(addr, p, superPassword string) error {
	c, err := rawzk.Connect(addr, zkproto.ConnectRequest{TimeOut: defaultTimeout, Passwd: make([]byte, 16), HasReadOnly: true})
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer closeSession(c)
	c.Raw().SetDeadline(time.Now().Add(30 * time.Second))
	creds := []string{"u1:p1", "u2:p2"}
	if superPassword != "" {
		creds = append(creds, "super:"+superPassword)
	}
	for _, cred := range creds {
		if err := c.SendXid(zkproto.XidAuth, zkproto.OpAuth, &zkproto.AuthPacket{Scheme: "digest", Auth: []byte(cred)}); err != nil {
			return fmt.Errorf("auth: %w", err)
		}
		if h, err := c.Recv(zkproto.XidAuth, nil); err != nil || h.Err != 0 {
			return fmt.Errorf("auth: %v %v", h.Err, err)
		}
	}
	if left := deleteTree(c, p); len(left) > 0 {
		return errors.New(strings.Join(left, "\n"))
	}
	return nil
}

// deleteTree deletes p's subtree and returns what it could not delete, as
// "path: error" for each node that refused other than for its children. A node an
// ACL keeps from listing or deleting children is given an open ACL first when the
// session may (ADMIN).
func deleteTree(c *rawzk.Conn, p string) []string {
	var kids zkproto.GetChildrenResponse
	err := c.Call(zkproto.OpGetChildren, &zkproto.GetChildrenRequest{Path: p}, &kids)
	if errors.Is(err, zkproto.ErrNoAuth) && c.Call(zkproto.OpSetACL, &zkproto.SetACLRequest{Path: p, ACL: openACL, Version: -1}, &zkproto.SetACLResponse{}) == nil {
		err = c.Call(zkproto.OpGetChildren, &zkproto.GetChildrenRequest{Path: p}, &kids)
	}
	switch {
	case errors.Is(err, zkproto.ErrNoNode):
		return nil
	case err != nil:
		return []string{fmt.Sprintf("%s: list: %v", p, err)}
	}
	var left []string
	for _, k := range kids.Children {
		child := path.Join(p, k)
		err := c.Call(zkproto.OpDelete, &zkproto.DeleteRequest{Path: child, Version: -1}, nil)
		if errors.Is(err, zkproto.ErrNoAuth) && c.Call(zkproto.OpSetACL, &zkproto.SetACLRequest{Path: p, ACL: openACL, Version: -1}, &zkproto.SetACLResponse{}) == nil {
			err = c.Call(zkproto.OpDelete, &zkproto.DeleteRequest{Path: child, Version: -1}, nil)
		}
		switch {
		case err == nil || errors.Is(err, zkproto.ErrNoNode):
		case errors.Is(err, zkproto.ErrNotEmpty):
			left = append(left, deleteTree(c, child)...)
		default:
			left = append(left, fmt.Sprintf("%s: delete: %v", child, err))
		}
	}
	if len(left) > 0 {
		return left
	}
	err = c.Call(zkproto.OpDelete, &zkproto.DeleteRequest{Path: p, Version: -1}, nil)
	if err != nil && !errors.Is(err, zkproto.ErrNoNode) {
		return []string{fmt.Sprintf("%s: delete: %v", p, err)}
	}
	return nil
}
