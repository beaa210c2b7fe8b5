package compat

import (
	"errors"
	"fmt"
	"path"
	"time"

	"github.com/zkraft/zkraft/integration/rawzk"
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
// superPassword is set, as super. A missing p is not an error.
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
	return deleteTree(c, p)
}

func deleteTree(c *rawzk.Conn, p string) error {
	var kids zkproto.GetChildrenResponse
	err := c.Call(zkproto.OpGetChildren, &zkproto.GetChildrenRequest{Path: p}, &kids)
	var errs []error
	switch {
	case errors.Is(err, zkproto.ErrNoNode):
		return nil
	case err != nil:
		// Not readable: try the delete anyway (it fails if there are children).
		errs = append(errs, fmt.Errorf("list %s: %w", p, err))
	}
	for _, k := range kids.Children {
		if err := deleteTree(c, path.Join(p, k)); err != nil {
			errs = append(errs, err)
		}
	}
	err = c.Call(zkproto.OpDelete, &zkproto.DeleteRequest{Path: p, Version: -1}, nil)
	if err != nil && !errors.Is(err, zkproto.ErrNoNode) {
		errs = append(errs, fmt.Errorf("delete %s: %w", p, err))
	}
	return errors.Join(errs...)
}
