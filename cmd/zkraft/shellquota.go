package main

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/zkraft/zkraft/storage/datatree"
	"github.com/zkraft/zkraft/zkproto"
)

// The quota commands do what zkCli.sh 3.8's SetQuotaCommand, ListQuotaCommand and
// DelQuotaCommand do: they are client-side edits of /zookeeper/quota<path>'s
// zookeeper_limits node (the server keeps zookeeper_stats).

const quotaRoot = "/zookeeper/quota"

func (sh *shell) exists(p string) (bool, error) {
	err := sh.c.call(zkproto.OpExists, &zkproto.ExistsRequest{Path: p}, &zkproto.ExistsResponse{})
	var code zkproto.ErrCode
	if errors.As(err, &code) && code == zkproto.ErrNoNode {
		return false, nil
	}
	return err == nil, err
}

func (sh *shell) getData(p string) ([]byte, error) {
	var resp zkproto.GetDataResponse
	err := sh.c.call(zkproto.OpGetData, &zkproto.GetDataRequest{Path: p}, &resp)
	return resp.Data, err
}

func isNoNode(err error) bool {
	var code zkproto.ErrCode
	return errors.As(err, &code) && code == zkproto.ErrNoNode
}

func (sh *shell) setQuota(args []string) error {
	o, err := parseOpts(args, "", "nbNB")
	if err != nil {
		return err
	}
	var chosen string
	for _, f := range []string{"n", "b", "N", "B"} {
		if !o.has(f) {
			continue
		}
		if chosen != "" {
			return fmt.Errorf("org.apache.commons.cli.AlreadySelectedException: The option '%s' was specified but an option from this group has already been selected: '%s'", f, chosen)
		}
		chosen = f
	}
	if chosen == "" || len(o.args) < 1 {
		return usageError{}
	}
	path := o.args[0]
	quota := datatree.StatsTrack{"count": -1, "bytes": -1, "countHardLimit": -1, "byteHardLimit": -1}
	v, err := strconv.ParseInt(o.flags[chosen], 10, 64)
	if err != nil {
		return errors.New("NumberFormatException happens when parsing the option value")
	}
	switch chosen {
	case "n", "N":
		if v <= 0 {
			return errors.New("the num quota must be greater than zero")
		}
	default:
		if v < 0 {
			return errors.New("the bytes quota must be greater than or equal to zero")
		}
	}
	quota[map[string]string{"n": "count", "b": "bytes", "N": "countHardLimit", "B": "byteHardLimit"}[chosen]] = v
	if err := validatePath(path, false); err != nil {
		return err
	}
	ok, err := sh.exists(path)
	if err != nil {
		return keeperError(err, path)
	}
	if !ok {
		return errors.New(path + " does not exist.")
	}
	if err := sh.checkChildQuota(path); err != nil {
		return err
	}
	if err := sh.checkParentQuota(path); err != nil {
		return err
	}
	for _, p := range []string{"/zookeeper", quotaRoot} {
		if ok, _ := sh.exists(p); !ok {
			sh.c.call(zkproto.OpCreate, &zkproto.CreateRequest{Path: p, ACL: openACL}, &zkproto.CreateResponse{})
		}
	}
	qp := quotaRoot
	for _, part := range strings.Split(path, "/")[1:] {
		qp += "/" + part
		if ok, _ := sh.exists(qp); !ok {
			sh.c.call(zkproto.OpCreate, &zkproto.CreateRequest{Path: qp, ACL: openACL}, &zkproto.CreateResponse{})
		}
	}
	statPath, limitPath := qp+"/zookeeper_stats", qp+"/zookeeper_limits"
	if ok, _ := sh.exists(limitPath); !ok {
		if err := sh.c.call(zkproto.OpCreate, &zkproto.CreateRequest{Path: limitPath, Data: []byte(quota.String()), ACL: openACL}, &zkproto.CreateResponse{}); err != nil {
			return keeperError(err, limitPath)
		}
		stats := datatree.StatsTrack{"count": 0, "bytes": 0}
		if err := sh.c.call(zkproto.OpCreate, &zkproto.CreateRequest{Path: statPath, Data: []byte(stats.String()), ACL: openACL}, &zkproto.CreateResponse{}); err != nil {
			return keeperError(err, statPath)
		}
		return sh.quotaWarnings(limitPath, statPath, nil)
	}
	return sh.quotaWarnings(limitPath, statPath, quota)
}

// quotaWarnings reads the limits and stats, warns where a limit is already passed,
// and with update merges update's set limits into the limits node.
func (sh *shell) quotaWarnings(limitPath, statPath string, update datatree.StatsTrack) error {
	ld, err := sh.getData(limitPath)
	if err != nil {
		return keeperError(err, limitPath)
	}
	limits, _ := datatree.ParseStatsTrack(ld)
	for k, v := range update {
		if v > -1 {
			limits[k] = v
		}
	}
	sd, err := sh.getData(statPath)
	if err != nil {
		return keeperError(err, statPath)
	}
	stats, _ := datatree.ParseStatsTrack(sd)
	if limits.Get("count") > -1 && limits.Get("count") < stats.Get("count") || limits.Get("countHardLimit") > -1 && limits.Get("countHardLimit") < stats.Get("count") {
		fmt.Fprintf(sh.out, "[Warning]: the count quota you create is less than the existing count:%d\n", stats.Get("count"))
	}
	if limits.Get("bytes") > -1 && limits.Get("bytes") < stats.Get("bytes") || limits.Get("byteHardLimit") > -1 && limits.Get("byteHardLimit") < stats.Get("bytes") {
		fmt.Fprintf(sh.out, "[Warning]: the bytes quota you create is less than the existing bytes:%d\n", stats.Get("bytes"))
	}
	if update != nil {
		if err := sh.c.call(zkproto.OpSetData, &zkproto.SetDataRequest{Path: limitPath, Data: []byte(limits.String()), Version: -1}, &zkproto.SetDataResponse{}); err != nil {
			return keeperError(err, limitPath)
		}
	}
	return nil
}

func trimQuota(p string) string { return strings.TrimPrefix(p, quotaRoot) }

// checkChildQuota refuses a quota above another one.
func (sh *shell) checkChildQuota(path string) error {
	real := quotaRoot + path
	if path == "/" {
		return errors.New("Path must not end with / character")
	}
	nodes, err := sh.subtree(real)
	if err != nil {
		if isNoNode(err) {
			return nil
		}
		return keeperError(err, real)
	}
	for _, n := range nodes {
		if n == real {
			continue
		}
		if strings.HasSuffix(n, "/zookeeper_limits") {
			return fmt.Errorf("%s has a child %s which has a quota", path, trimQuota(strings.TrimSuffix(n, "/zookeeper_limits")))
		}
	}
	return nil
}

// checkParentQuota refuses a quota below another one.
func (sh *shell) checkParentQuota(path string) error {
	parts := strings.Split(path, "/")
	qp := quotaRoot
	for i := 1; i < len(parts)-1; i++ {
		qp += "/" + parts[i]
		kids, err := sh.children(qp, false)
		if err != nil || len(kids) == 0 {
			return nil
		}
		for _, k := range kids {
			if k == "zookeeper_limits" && qp != quotaRoot+path {
				return fmt.Errorf("%s has a parent %s which has a quota", path, trimQuota(qp))
			}
		}
	}
	return nil
}

func (sh *shell) listQuota(args []string) error {
	if len(args) < 1 {
		return usageError{}
	}
	path := args[0]
	limitPath := quotaRoot + path + "/zookeeper_limits"
	fmt.Fprintln(sh.errOut, "absolute path is "+limitPath)
	ld, err := sh.getData(limitPath)
	if err == nil {
		var sd []byte
		if sd, err = sh.getData(quotaRoot + path + "/zookeeper_stats"); err == nil {
			l, _ := datatree.ParseStatsTrack(ld)
			s, _ := datatree.ParseStatsTrack(sd)
			fmt.Fprintf(sh.out, "Output quota for %s %s\nOutput stat for %s %s\n", path, l, path, s)
			return nil
		}
	}
	if isNoNode(err) {
		fmt.Fprintf(sh.errOut, "quota for %s does not exist.\n", path)
		return nil
	}
	return keeperError(err, limitPath)
}

func (sh *shell) delQuota(args []string) error {
	o, err := parseOpts(args, "nbNB", "")
	if err != nil || len(o.args) < 1 {
		return usageError{}
	}
	path := o.args[0]
	parent, limitPath := quotaRoot+path, quotaRoot+path+"/zookeeper_limits"
	if ok, _ := sh.exists(limitPath); !ok {
		fmt.Fprintln(sh.out, "Quota does not exist for "+path)
		return nil
	}
	ld, err := sh.getData(limitPath)
	if err != nil {
		if isNoNode(err) {
			fmt.Fprintln(sh.errOut, "quota does not exist for "+path)
			return nil
		}
		return keeperError(err, limitPath)
	}
	limits, _ := datatree.ParseStatsTrack(ld)
	if !o.has("n") && !o.has("b") && !o.has("N") && !o.has("B") {
		kids, err := sh.children(parent, false)
		if err != nil {
			return keeperError(err, parent)
		}
		for _, k := range kids {
			if err := sh.c.call(zkproto.OpDelete, &zkproto.DeleteRequest{Path: parent + "/" + k, Version: -1}, nil); err != nil {
				return keeperError(err, parent+"/"+k)
			}
		}
		// Remove the quota path's empty ancestors up to /zookeeper/quota.
		for p := parent; p != quotaRoot; p = p[:strings.LastIndexByte(p, '/')] {
			kids, err := sh.children(p, false)
			if err != nil || len(kids) > 0 {
				break
			}
			if err := sh.c.call(zkproto.OpDelete, &zkproto.DeleteRequest{Path: p, Version: -1}, nil); err != nil {
				return keeperError(err, p)
			}
		}
		return nil
	}
	for f, k := range map[string]string{"n": "count", "b": "bytes", "N": "countHardLimit", "B": "byteHardLimit"} {
		if o.has(f) {
			limits[k] = -1
		}
	}
	if err := sh.c.call(zkproto.OpSetData, &zkproto.SetDataRequest{Path: limitPath, Data: []byte(limits.String()), Version: -1}, &zkproto.SetDataResponse{}); err != nil {
		return keeperError(err, limitPath)
	}
	return nil
}
