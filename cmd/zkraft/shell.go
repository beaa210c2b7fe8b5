package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/zkraft/zkraft/ensemble/fourletter"
	"github.com/zkraft/zkraft/zkproto"
)

// shellCmd is zkraft shell: zkCli.sh's commands, flags and output.
func shellCmd() *cobra.Command {
	var server string
	var timeout int
	cmd := &cobra.Command{
		Use:   "shell [command args...]",
		Short: "An interactive shell with zkCli.sh's commands (ls, get, set, create, ...)",
		Long: `An interactive shell with zkCli.sh's commands, flags and output: ls [-s] [-w] [-R],
get [-s] [-w], set [-s] [-v], create [-s] [-e] [-c] [-t ttl], delete [-v], deleteall,
stat [-w], getAcl [-s], setAcl [-s] [-v] [-R], addauth, sync, addWatch [-m],
removewatches, getEphemerals, getAllChildrenNumber, whoami, config, reconfig,
setquota, listquota, delquota, history, redo, printwatches, close, connect, quit.

With a command after the flags it runs that one command and exits (for scripts:
zkraft shell -server host:2181 ls /); otherwise it reads commands from stdin, with a
prompt when stdin is a terminal. Works against ZooKeeper servers too.`,
		DisableFlagParsing: true, // zkCli's own single-dash flags: -server, -timeout
		RunE: func(cmd *cobra.Command, args []string) error {
			for len(args) > 0 && strings.HasPrefix(args[0], "-") {
				switch args[0] {
				case "-server", "--server":
					if len(args) < 2 {
						return errors.New("-server needs host:port[,host:port...]")
					}
					server, args = args[1], args[2:]
				case "-timeout", "--timeout":
					if len(args) < 2 {
						return errors.New("-timeout needs milliseconds")
					}
					n, err := strconv.Atoi(args[1])
					if err != nil {
						return fmt.Errorf("-timeout %q: %w", args[1], err)
					}
					timeout, args = n, args[2:]
				case "-h", "--help", "-help":
					return cmd.Help()
				default:
					return fmt.Errorf("unknown flag %s (use -server host:port and -timeout ms)", args[0])
				}
			}
			sh := &shell{out: cmd.OutOrStdout(), errOut: cmd.ErrOrStderr(), server: server, timeout: int32(timeout), printWatches: true}
			if err := sh.connect(server); err != nil {
				return err
			}
			defer sh.closeSession()
			if len(args) > 0 {
				if !sh.run(args) {
					return errors.New("command failed")
				}
				return nil
			}
			return sh.loop(cmd.InOrStdin())
		},
	}
	_ = server
	server, timeout = "127.0.0.1:2181", 30000
	return cmd
}

type shell struct {
	out, errOut  io.Writer
	server       string
	timeout      int32
	c            *shellClient
	history      []string
	printWatches bool
	stopEvents   chan struct{}
	// watches are the watches this session set, by path and kind ("data", "child",
	// "persistent"), for the events the client library makes up when removewatches
	// removes them (as ZooKeeper's Java client does).
	watchMu sync.Mutex
	watches map[string]map[string]bool
}

func (sh *shell) watchSet(path, kind string) {
	sh.watchMu.Lock()
	defer sh.watchMu.Unlock()
	if sh.watches[path] == nil {
		sh.watches[path] = map[string]bool{}
	}
	sh.watches[path][kind] = true
}

// watchFired forgets the one-shot watches an event consumed.
func (sh *shell) watchFired(ev zkproto.WatcherEvent) {
	sh.watchMu.Lock()
	defer sh.watchMu.Unlock()
	w := sh.watches[ev.Path]
	switch ev.Type {
	case zkproto.EventNodeCreated, zkproto.EventNodeDataChanged:
		delete(w, "data")
	case zkproto.EventNodeChildrenChanged:
		delete(w, "child")
	case zkproto.EventNodeDeleted:
		delete(w, "data")
		delete(w, "child")
	}
}

// watchesRemoved forgets the watches of kind (1 child, 2 data, 3 any) on path and
// returns the events the Java client would deliver for them.
func (sh *shell) watchesRemoved(path string, kind int32) []zkproto.WatcherEvent {
	sh.watchMu.Lock()
	defer sh.watchMu.Unlock()
	w := sh.watches[path]
	var out []zkproto.WatcherEvent
	for _, k := range []struct {
		name string
		typ  zkproto.EventType
		on   bool
	}{
		{"data", zkproto.EventDataWatchRemoved, kind != 1},
		{"child", zkproto.EventChildWatchRemoved, kind != 2},
		{"persistent", zkproto.EventPersistentWatchRemoved, true},
	} {
		if k.on && w[k.name] {
			delete(w, k.name)
			out = append(out, zkproto.WatcherEvent{Type: k.typ, State: zkproto.StateSyncConnected, Path: path})
		}
	}
	return out
}

// closeSession ends the session, reporting it as zkCli.sh's watcher does.
func (sh *shell) closeSession() {
	if sh.c.state() == "CLOSED" {
		return
	}
	close(sh.stopEvents)
	sh.c.close()
	sh.printEvent(zkproto.WatcherEvent{Type: zkproto.EventNone, State: zkproto.StateClosed})
}

func (sh *shell) connect(server string) error {
	c, err := dialShell(strings.Split(server, ","), sh.timeout)
	if err != nil {
		return err
	}
	if sh.c != nil {
		sh.closeSession()
	}
	sh.c, sh.server = c, server
	sh.watches = map[string]map[string]bool{}
	sh.stopEvents = make(chan struct{})
	c.event(zkproto.WatcherEvent{Type: zkproto.EventNone, State: zkproto.StateSyncConnected})
	go sh.printEvents(c, sh.stopEvents)
	return nil
}

// printEvents prints watch events as zkCli.sh's watcher does.
func (sh *shell) printEvents(c *shellClient, stop chan struct{}) {
	for {
		select {
		case <-stop:
			return
		case ev := <-c.events:
			sh.watchFired(ev)
			sh.printEvent(ev)
		}
	}
}

// printEvent prints a watch event as zkCli.sh's watcher does.
func (sh *shell) printEvent(ev zkproto.WatcherEvent) {
	if !sh.printWatches {
		return
	}
	path := ev.Path
	if ev.Type == zkproto.EventNone && path == "" {
		path = "null"
	}
	fmt.Fprintf(sh.out, "\nWATCHER::\n\nWatchedEvent state:%s type:%s path:%s\n", stateName(ev.State), eventName(ev.Type), path)
}

func stateName(s zkproto.KeeperState) string {
	switch s {
	case zkproto.StateDisconnected:
		return "Disconnected"
	case zkproto.StateSyncConnected:
		return "SyncConnected"
	case zkproto.StateAuthFailed:
		return "AuthFailed"
	case zkproto.StateConnectedReadOnly:
		return "ConnectedReadOnly"
	case zkproto.StateSaslAuthenticated:
		return "SaslAuthenticated"
	case zkproto.StateExpired:
		return "Expired"
	case zkproto.StateClosed:
		return "Closed"
	}
	return "Unknown"
}

func eventName(t zkproto.EventType) string {
	return [...]string{"None", "None", "NodeCreated", "NodeDeleted", "NodeDataChanged", "NodeChildrenChanged", "DataWatchRemoved", "ChildWatchRemoved", "PersistentWatchRemoved"}[max(0, min(int(t)+1, 8))]
}

// loop reads commands until quit or the end of input. On a terminal it edits lines
// (arrow keys, history) and completes commands and paths with Tab.
func (sh *shell) loop(in io.Reader) error {
	if f, ok := in.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		return sh.interactive(f)
	}
	sc := bufio.NewScanner(in)
	sc.Buffer(nil, 4<<20)
	for sc.Scan() {
		if !sh.line(sc.Text()) {
			return nil
		}
	}
	return sc.Err()
}

// line runs one input line; false after quit.
func (sh *shell) line(line string) bool {
	line = strings.TrimSpace(line)
	if line == "" {
		return true
	}
	args := splitCommandLine(line)
	if args[0] == "quit" {
		return false
	}
	sh.history = append(sh.history, line)
	sh.run(args)
	return true
}

func (sh *shell) prompt() string {
	return fmt.Sprintf("[zk: %s(%s) %d] ", sh.server, sh.c.state(), len(sh.history))
}

func (sh *shell) interactive(f *os.File) error {
	old, err := term.MakeRaw(int(f.Fd()))
	if err != nil {
		return err
	}
	defer term.Restore(int(f.Fd()), old)
	t := term.NewTerminal(struct {
		io.Reader
		io.Writer
	}{f, os.Stdout}, sh.prompt())
	t.AutoCompleteCallback = sh.complete
	sh.out, sh.errOut = t, t
	for {
		t.SetPrompt(sh.prompt())
		line, err := t.ReadLine()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		if !sh.line(line) {
			return nil
		}
	}
}

// complete completes the word before the cursor on Tab: a command name, or a path
// from the children of its parent.
func (sh *shell) complete(line string, pos int, key rune) (string, int, bool) {
	if key != '\t' {
		return "", 0, false
	}
	start := strings.LastIndexByte(line[:pos], ' ') + 1
	word := line[start:pos]
	var candidates []string
	switch {
	case start == 0:
		for k := range commandUsage {
			if strings.HasPrefix(k, word) {
				candidates = append(candidates, k+" ")
			}
		}
	case strings.HasPrefix(word, "/"):
		dir, base := word[:strings.LastIndexByte(word, '/')+1], word[strings.LastIndexByte(word, '/')+1:]
		parent := strings.TrimSuffix(dir, "/")
		if parent == "" {
			parent = "/"
		}
		kids, err := sh.children(parent, false)
		if err != nil {
			return "", 0, false
		}
		for _, k := range kids {
			if strings.HasPrefix(k, base) {
				candidates = append(candidates, dir+k)
			}
		}
	}
	if len(candidates) == 0 {
		return "", 0, false
	}
	slices.Sort(candidates)
	common := candidates[0]
	for _, c := range candidates[1:] {
		for !strings.HasPrefix(c, common) {
			common = common[:len(common)-1]
		}
	}
	if len(candidates) > 1 && common == word {
		fmt.Fprintln(sh.out, "\n"+strings.Join(candidates, "  "))
		return "", 0, false
	}
	return line[:start] + common + line[pos:], start + len(common), true
}

// splitCommandLine splits as zkCli.sh does: words, or "quoted strings" without
// their quotes.
func splitCommandLine(line string) []string {
	var out []string
	for _, m := range commandWords.FindAllStringSubmatch(line, -1) {
		if m[1] != "" || strings.HasPrefix(m[0], `"`) {
			out = append(out, m[1])
		} else {
			out = append(out, m[2])
		}
	}
	return out
}

var commandWords = regexp.MustCompile(`"([^"]*)"|(\S+)`)

// opts is a command's parsed options: flags (with their values) and the rest.
type opts struct {
	flags map[string]string
	args  []string
}

func (o opts) has(f string) bool { _, ok := o.flags[f]; return ok }

// parseOpts reads single-letter options as commons-cli does: those in withValue
// take the next word.
func parseOpts(args []string, boolFlags, withValue string) (opts, error) {
	o := opts{flags: map[string]string{}}
	for i := 0; i < len(args); i++ {
		a := args[i]
		if len(a) >= 2 && a[0] == '-' && !strings.HasPrefix(a, "--") {
			for j := 1; j < len(a); j++ {
				f := string(a[j])
				switch {
				case strings.Contains(withValue, f):
					if j+1 < len(a) {
						o.flags[f] = a[j+1:]
					} else if i+1 < len(args) {
						i++
						o.flags[f] = args[i]
					} else {
						return o, fmt.Errorf("Missing argument for option: %s", f)
					}
					j = len(a)
				case strings.Contains(boolFlags, f):
					o.flags[f] = ""
				default:
					return o, fmt.Errorf("Unrecognized option: %s", a)
				}
			}
			continue
		}
		o.args = append(o.args, a)
	}
	return o, nil
}

// commandUsage is zkCli.sh's usage line of each command.
var commandUsage = map[string]string{
	"addauth": "addauth scheme auth", "addWatch": "addWatch [-m mode] path # optional mode is one of [PERSISTENT, PERSISTENT_RECURSIVE] - default is PERSISTENT_RECURSIVE",
	"close": "close", "config": "config [-c] [-w] [-s]", "connect": "connect host:port",
	"create": "create [-s] [-e] [-c] [-t ttl] path [data] [acl]", "delete": "delete [-v version] path",
	"deleteall": "deleteall path [-b batch size]", "delquota": "delquota [-n|-b|-N|-B] path",
	"get": "get [-s] [-w] path", "getAcl": "getAcl [-s] path", "getAllChildrenNumber": "getAllChildrenNumber path",
	"getEphemerals": "getEphemerals path", "history": "history", "listquota": "listquota path",
	"ls": "ls [-s] [-w] [-R] path", "printwatches": "printwatches on|off", "quit": "quit",
	"reconfig": "reconfig [-s] [-v version] [[-file path] | [-members serverID=host:port1:port2;port3[,...]*]] | [-add serverId=host:port1:port2;port3[,...]]* [-remove serverId[,...]*]",
	"redo":     "redo cmdno", "removewatches": "removewatches path [-c|-d|-a] [-l]",
	"set": "set [-s] [-v version] path data", "setAcl": "setAcl [-s] [-v version] [-R] path acl",
	"setquota": "setquota -n|-b|-N|-B val path", "stat": "stat [-w] path", "sync": "sync path",
	"version": "version", "whoami": "whoami",
}

// run runs one command and reports whether it succeeded.
func (sh *shell) run(args []string) bool {
	name := args[0]
	err := sh.dispatch(name, args[1:])
	if err == nil {
		return true
	}
	var usage usageError
	switch {
	case errors.As(err, &usage):
		if u, ok := commandUsage[name]; ok {
			fmt.Fprintln(sh.errOut, u)
		} else {
			sh.printUsage()
		}
	default:
		fmt.Fprintln(sh.errOut, err.Error())
	}
	return false
}

type usageError struct{ msg string }

func (u usageError) Error() string { return u.msg }

func (sh *shell) printUsage() {
	fmt.Fprintln(sh.errOut, "ZooKeeper -server host:port -client-configuration properties-file cmd args")
	keys := make([]string, 0, len(commandUsage))
	for k := range commandUsage {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		u := commandUsage[k]
		if !strings.Contains(u, " ") {
			u += " " // zkCli prints "name options", options empty
		}
		fmt.Fprintln(sh.errOut, "\t"+u)
	}
}

// keeperError is zkCli.sh's message for a server error on path (CliWrapperException).
func keeperError(err error, path string) error {
	var code zkproto.ErrCode
	if !errors.As(err, &code) {
		return err
	}
	switch code {
	case zkproto.ErrNoNode:
		return errors.New("Node does not exist: " + path)
	case zkproto.ErrNoChildrenForEphemerals:
		return errors.New("Ephemerals cannot have children: " + path)
	case zkproto.ErrNodeExists:
		return errors.New("Node already exists: " + path)
	case zkproto.ErrNotEmpty:
		return errors.New("Node not empty: " + path)
	case zkproto.ErrNotReadOnly:
		return errors.New("Not a read-only call: " + path)
	case zkproto.ErrInvalidACL:
		return errors.New("Acl is not valid : " + path)
	case zkproto.ErrNoAuth:
		return errors.New("Insufficient permission : " + path)
	case zkproto.ErrBadArguments:
		return errors.New("Argument is not valid : " + path)
	case zkproto.ErrBadVersion:
		return errors.New("version No is not valid : " + path)
	case zkproto.ErrReconfigInProgress:
		return errors.New("Another reconfiguration is in progress -- concurrent reconfigs not supported (yet)")
	case zkproto.ErrNewConfigNoQuorum:
		return errors.New("No quorum of new config is connected and up-to-date with the leader of last commmitted config - try invoking reconfiguration after new servers are connected and synced")
	case zkproto.ErrQuotaExceeded:
		return errors.New("Quota has exceeded : " + path)
	}
	msg := "KeeperErrorCode = " + codeMessage(code)
	if path != "" {
		msg += " for " + path
	}
	return errors.New(msg)
}

// codeMessage is KeeperException.getCodeMessage.
func codeMessage(c zkproto.ErrCode) string {
	switch c {
	case zkproto.ErrSystemError:
		return "SystemError"
	case zkproto.ErrRuntimeInconsistency:
		return "RuntimeInconsistency"
	case zkproto.ErrDataInconsistency:
		return "DataInconsistency"
	case zkproto.ErrConnectionLoss:
		return "ConnectionLoss"
	case zkproto.ErrMarshallingError:
		return "MarshallingError"
	case zkproto.ErrUnimplemented:
		return "Unimplemented"
	case zkproto.ErrOperationTimeout:
		return "OperationTimeout"
	case zkproto.ErrBadArguments:
		return "BadArguments"
	case zkproto.ErrNoNode:
		return "NoNode"
	case zkproto.ErrNoAuth:
		return "NoAuth"
	case zkproto.ErrBadVersion:
		return "BadVersion"
	case zkproto.ErrSessionExpired:
		return "Session expired"
	case zkproto.ErrInvalidACL:
		return "InvalidACL"
	case zkproto.ErrAuthFailed:
		return "AuthFailed"
	case zkproto.ErrSessionMoved:
		return "Session moved"
	case zkproto.ErrNoWatcher:
		return "No such watcher"
	case zkproto.ErrReconfigDisabled:
		return "Reconfig is disabled"
	case zkproto.ErrThrottledOp:
		return "Op throttled due to high load"
	}
	return "Unknown error " + strconv.Itoa(int(c))
}

// validatePath is the client's PathUtils.validatePath, with its messages.
func validatePath(p string, sequential bool) error {
	if sequential {
		p += "1"
	}
	switch {
	case p == "":
		return errors.New("Path length must be > 0")
	case p[0] != '/':
		return errors.New("Path must start with / character")
	case len(p) == 1:
		return nil
	case p[len(p)-1] == '/':
		return errors.New("Path must not end with / character")
	}
	if err := zkproto.ValidatePath(p); err != nil {
		return fmt.Errorf("Invalid path string \"%s\" caused by %v", p, err)
	}
	return nil
}

func javaDate(ms int64) string { return time.UnixMilli(ms).Format("Mon Jan 02 15:04:05 MST 2006") }

func (sh *shell) printStat(st zkproto.Stat) {
	fmt.Fprintf(sh.out, "cZxid = 0x%x\nctime = %s\nmZxid = 0x%x\nmtime = %s\npZxid = 0x%x\ncversion = %d\ndataVersion = %d\naclVersion = %d\nephemeralOwner = 0x%x\ndataLength = %d\nnumChildren = %d\n",
		uint64(st.Czxid), javaDate(st.Ctime), uint64(st.Mzxid), javaDate(st.Mtime), uint64(st.Pzxid), st.Cversion, st.Version, st.Aversion, uint64(st.EphemeralOwner), st.DataLength, st.NumChildren)
}

// permString is ZKUtil.getPermString.
func permString(p int32) string {
	var b strings.Builder
	for _, x := range []struct {
		bit int32
		c   byte
	}{{zkproto.PermCreate, 'c'}, {zkproto.PermDelete, 'd'}, {zkproto.PermRead, 'r'}, {zkproto.PermWrite, 'w'}, {zkproto.PermAdmin, 'a'}} {
		if p&x.bit != 0 {
			b.WriteByte(x.c)
		}
	}
	return b.String()
}

// parseACL is AclParser.parse: scheme:id:perms, comma-separated.
func parseACL(s string) ([]zkproto.ACL, error) {
	var out []zkproto.ACL
	for _, a := range strings.Split(s, ",") {
		first, last := strings.IndexByte(a, ':'), strings.LastIndexByte(a, ':')
		if first < 0 || last == first {
			return nil, fmt.Errorf("%s does not have the form scheme:id:perm", a)
		}
		var perms int32
		for _, c := range a[last+1:] {
			switch c {
			case 'r':
				perms |= zkproto.PermRead
			case 'w':
				perms |= zkproto.PermWrite
			case 'c':
				perms |= zkproto.PermCreate
			case 'd':
				perms |= zkproto.PermDelete
			case 'a':
				perms |= zkproto.PermAdmin
			default:
				return nil, fmt.Errorf("Unknown perm type: %c", c)
			}
		}
		out = append(out, zkproto.ACL{Perms: perms, ID: zkproto.Id{Scheme: a[:first], ID: a[first+1 : last]}})
	}
	return out, nil
}

var openACL = []zkproto.ACL{{Perms: zkproto.PermAll, ID: zkproto.Id{Scheme: "world", ID: "anyone"}}}

// javaList is List.toString: [a, b].
func javaList(items []string) string { return "[" + strings.Join(items, ", ") + "]" }

func (sh *shell) dispatch(name string, args []string) error {
	c := sh.c
	need := func(o opts, n int) error {
		if len(o.args) < n {
			return usageError{"missing arguments"}
		}
		return nil
	}
	switch name {
	case "ls":
		o, err := parseOpts(args, "swR?", "")
		if err != nil || need(o, 1) != nil {
			return usageError{}
		}
		p := o.args[0]
		if err := validatePath(p, false); err != nil {
			return err
		}
		if o.has("R") {
			return sh.lsR(p, o.has("w"))
		}
		var resp zkproto.GetChildren2Response
		if err := c.call(zkproto.OpGetChildren2, &zkproto.GetChildren2Request{Path: p, Watch: o.has("w")}, &resp); err != nil {
			return keeperError(err, p)
		}
		if o.has("w") {
			sh.watchSet(p, "child")
		}
		kids := slices.Clone(resp.Children)
		slices.Sort(kids)
		fmt.Fprintln(sh.out, javaList(kids))
		if o.has("s") {
			sh.printStat(resp.Stat)
		}
	case "get":
		o, err := parseOpts(args, "sw", "")
		if err != nil || need(o, 1) != nil {
			return usageError{}
		}
		p := o.args[0]
		if err := validatePath(p, false); err != nil {
			return err
		}
		var resp zkproto.GetDataResponse
		if err := c.call(zkproto.OpGetData, &zkproto.GetDataRequest{Path: p, Watch: o.has("w")}, &resp); err != nil {
			return keeperError(err, p)
		}
		if o.has("w") {
			sh.watchSet(p, "data")
		}
		if resp.Data == nil {
			fmt.Fprintln(sh.out, "null")
		} else {
			fmt.Fprintln(sh.out, string(resp.Data))
		}
		if o.has("s") {
			sh.printStat(resp.Stat)
		}
	case "set":
		o, err := parseOpts(args, "s", "v")
		if err != nil || need(o, 2) != nil {
			return usageError{}
		}
		p := o.args[0]
		version := int32(-1)
		if v, ok := o.flags["v"]; ok {
			n, err := strconv.ParseInt(v, 10, 32)
			if err != nil {
				return fmt.Errorf("For input string: %q", v)
			}
			version = int32(n)
		}
		if err := validatePath(p, false); err != nil {
			return err
		}
		var resp zkproto.SetDataResponse
		if err := c.call(zkproto.OpSetData, &zkproto.SetDataRequest{Path: p, Data: []byte(o.args[1]), Version: version}, &resp); err != nil {
			return keeperError(err, p)
		}
		if o.has("s") {
			sh.printStat(resp.Stat)
		}
	case "create":
		return sh.create(args)
	case "delete":
		o, err := parseOpts(args, "", "v")
		if err != nil || need(o, 1) != nil {
			return usageError{}
		}
		p := o.args[0]
		version := int32(-1)
		if v, ok := o.flags["v"]; ok {
			n, _ := strconv.ParseInt(v, 10, 32)
			version = int32(n)
		}
		if err := validatePath(p, false); err != nil {
			return err
		}
		if err := c.call(zkproto.OpDelete, &zkproto.DeleteRequest{Path: p, Version: version}, nil); err != nil {
			return keeperError(err, p)
		}
	case "deleteall", "rmr":
		o, err := parseOpts(args, "", "b")
		if err != nil || need(o, 1) != nil {
			return usageError{}
		}
		if err := validatePath(o.args[0], false); err != nil {
			return err
		}
		return sh.deleteAll(o.args[0])
	case "stat":
		o, err := parseOpts(args, "w", "")
		if err != nil || need(o, 1) != nil {
			return usageError{}
		}
		p := o.args[0]
		if err := validatePath(p, false); err != nil {
			return err
		}
		var resp zkproto.ExistsResponse
		if o.has("w") {
			sh.watchSet(p, "data") // exists sets a watch even on a missing node
		}
		if err := c.call(zkproto.OpExists, &zkproto.ExistsRequest{Path: p, Watch: o.has("w")}, &resp); err != nil {
			return keeperError(err, p)
		}
		sh.printStat(resp.Stat)
	case "getAcl":
		o, err := parseOpts(args, "s", "")
		if err != nil || need(o, 1) != nil {
			return usageError{}
		}
		p := o.args[0]
		var resp zkproto.GetACLResponse
		if err := c.call(zkproto.OpGetACL, &zkproto.GetACLRequest{Path: p}, &resp); err != nil {
			return keeperError(err, p)
		}
		for _, a := range resp.ACL {
			fmt.Fprintf(sh.out, "'%s,'%s\n: %s\n", a.ID.Scheme, a.ID.ID, permString(a.Perms))
		}
		if o.has("s") {
			sh.printStat(resp.Stat)
		}
	case "setAcl":
		o, err := parseOpts(args, "sR", "v")
		if err != nil || need(o, 2) != nil {
			return usageError{}
		}
		p := o.args[0]
		acl, err := parseACL(o.args[1])
		if err != nil {
			return err
		}
		version := int32(-1)
		if v, ok := o.flags["v"]; ok {
			n, _ := strconv.ParseInt(v, 10, 32)
			version = int32(n)
		}
		paths := []string{p}
		if o.has("R") {
			var err error
			if paths, err = sh.subtree(p); err != nil {
				return keeperError(err, p)
			}
		}
		for _, q := range paths {
			var resp zkproto.SetACLResponse
			if err := c.call(zkproto.OpSetACL, &zkproto.SetACLRequest{Path: q, ACL: acl, Version: version}, &resp); err != nil {
				return keeperError(err, q)
			}
			if o.has("s") {
				sh.printStat(resp.Stat)
			}
		}
	case "addauth":
		if len(args) < 1 {
			return usageError{}
		}
		var auth []byte
		if len(args) > 1 {
			auth = []byte(args[1])
		}
		if err := c.addAuth(args[0], auth); err != nil {
			return keeperError(err, "")
		}
	case "sync":
		if len(args) < 1 {
			return usageError{}
		}
		if err := validatePath(args[0], false); err != nil {
			return err
		}
		var resp zkproto.SyncResponse
		if err := c.call(zkproto.OpSync, &zkproto.SyncRequest{Path: args[0]}, &resp); err != nil {
			fmt.Fprintln(sh.out, "Sync is Failed: "+keeperError(err, args[0]).Error())
			return nil
		}
		fmt.Fprintln(sh.out, "Sync is OK")
	case "addWatch":
		o, err := parseOpts(args, "", "m")
		if err != nil || need(o, 1) != nil {
			return usageError{}
		}
		mode := int32(1) // PERSISTENT_RECURSIVE
		if m, ok := o.flags["m"]; ok {
			switch strings.ToUpper(m) {
			case "PERSISTENT":
				mode = 0
			case "PERSISTENT_RECURSIVE":
			default:
				return fmt.Errorf("Unsupported mode: %s", m)
			}
		}
		if err := c.call(zkproto.OpAddWatch, &zkproto.AddWatchRequest{Path: o.args[0], Mode: mode}, nil); err != nil {
			return keeperError(err, o.args[0])
		}
		sh.watchSet(o.args[0], "persistent")
	case "removewatches":
		o, err := parseOpts(args, "cdal", "")
		if err != nil || need(o, 1) != nil {
			return usageError{}
		}
		typ := int32(3) // any
		switch {
		case o.has("c"):
			typ = 1
		case o.has("d"):
			typ = 2
		}
		if err := c.call(zkproto.OpRemoveWatches, &zkproto.RemoveWatchesRequest{Path: o.args[0], Type: typ}, nil); err != nil {
			return keeperError(err, o.args[0])
		}
		for _, ev := range sh.watchesRemoved(o.args[0], typ) {
			sh.printEvent(ev) // made up by the client, before the command returns
		}
	case "getEphemerals":
		p := "/"
		if len(args) > 0 {
			p = args[0]
		}
		var resp zkproto.GetEphemeralsResponse
		if err := c.call(zkproto.OpGetEphemerals, &zkproto.GetEphemeralsRequest{PrefixPath: p}, &resp); err != nil {
			return keeperError(err, p)
		}
		fmt.Fprintln(sh.out, javaList(resp.Ephemerals))
	case "getAllChildrenNumber":
		if len(args) < 1 {
			return usageError{}
		}
		var resp zkproto.GetAllChildrenNumberResponse
		if err := c.call(zkproto.OpGetAllChildrenNumber, &zkproto.GetAllChildrenNumberRequest{Path: args[0]}, &resp); err != nil {
			return keeperError(err, args[0])
		}
		fmt.Fprintln(sh.out, resp.TotalNumber)
	case "whoami":
		var resp zkproto.WhoAmIResponse
		if err := c.call(zkproto.OpWhoAmI, nil, &resp); err != nil {
			return keeperError(err, "")
		}
		fmt.Fprintln(sh.out, "Auth scheme: User")
		for _, ci := range resp.ClientInfo {
			fmt.Fprintf(sh.out, "%s: %s\n", ci.AuthScheme, ci.User)
		}
	case "config":
		o, err := parseOpts(args, "cws", "")
		if err != nil {
			return usageError{}
		}
		var resp zkproto.GetDataResponse
		if err := c.call(zkproto.OpGetData, &zkproto.GetDataRequest{Path: "/zookeeper/config", Watch: o.has("w")}, &resp); err != nil {
			return keeperError(err, "/zookeeper/config")
		}
		text := string(resp.Data)
		if o.has("c") {
			text = configConnectString(text)
		}
		fmt.Fprintln(sh.out, text)
		if o.has("s") {
			sh.printStat(resp.Stat)
		}
	case "reconfig":
		return sh.reconfig(args)
	case "setquota":
		return sh.setQuota(args)
	case "listquota":
		return sh.listQuota(args)
	case "delquota":
		return sh.delQuota(args)
	case "history":
		for i := max(0, len(sh.history)-11); i < len(sh.history); i++ {
			fmt.Fprintf(sh.out, "%d - %s\n", i, sh.history[i])
		}
	case "redo":
		if len(args) < 1 {
			return usageError{}
		}
		n, err := strconv.Atoi(args[0])
		if err != nil || n < 0 || n >= len(sh.history)-1 {
			return errors.New("Command index out of range")
		}
		line := sh.history[n]
		a := splitCommandLine(line)
		if a[0] == "history" {
			return errors.New("No command specified")
		}
		sh.history[len(sh.history)-1] = line // the redone command takes redo's place
		return sh.dispatch(a[0], a[1:])
	case "printwatches":
		if len(args) == 0 {
			fmt.Fprintf(sh.out, "printwatches is %s\n", map[bool]string{true: "on", false: "off"}[sh.printWatches])
			return nil
		}
		sh.printWatches = args[0] == "on"
	case "connect":
		if len(args) < 1 {
			return usageError{}
		}
		return sh.connect(args[0])
	case "close":
		sh.closeSession()
	case "version":
		fmt.Fprintln(sh.out, "ZooKeeper CLI version: zkraft "+zkraftVersion())
	default:
		sh.printUsage()
		return fmt.Errorf("Command not found: Command not found %s", name)
	}
	return nil
}

func (sh *shell) create(args []string) error {
	o, err := parseOpts(args, "sec", "t")
	if err != nil || len(o.args) < 1 {
		return usageError{}
	}
	p := o.args[0]
	var data []byte
	if len(o.args) > 1 {
		data = []byte(o.args[1])
	}
	acl := openACL
	if len(o.args) > 2 {
		if acl, err = parseACL(o.args[2]); err != nil {
			return err
		}
	}
	seq, eph, cont := o.has("s"), o.has("e"), o.has("c")
	ttl, hasTTL := o.flags["t"]
	if cont && (seq || eph) {
		return errors.New("-c cannot be combined with -s or -e. Containers cannot be ephemeral or sequential.")
	}
	if hasTTL && eph {
		return errors.New("TTLs cannot be used with Ephemeral znodes")
	}
	mode := zkproto.ModePersistent
	switch {
	case seq && eph:
		mode = zkproto.ModeEphemeralSequential
	case eph:
		mode = zkproto.ModeEphemeral
	case seq && hasTTL:
		mode = zkproto.ModePersistentSequentialWithTTL
	case hasTTL:
		mode = zkproto.ModePersistentWithTTL
	case seq:
		mode = zkproto.ModePersistentSequential
	case cont:
		mode = zkproto.ModeContainer
	}
	if err := validatePath(p, seq); err != nil {
		return err
	}
	var resp zkproto.Create2Response
	switch {
	case hasTTL:
		n, err := strconv.ParseInt(ttl, 10, 64)
		if err != nil {
			return fmt.Errorf("For input string: %q", ttl)
		}
		err = sh.c.call(zkproto.OpCreateTTL, &zkproto.CreateTTLRequest{Path: p, Data: data, ACL: acl, Flags: mode, TTL: n}, &resp)
		if err != nil {
			return keeperError(err, p)
		}
	case cont:
		if err := sh.c.call(zkproto.OpCreateContainer, &zkproto.CreateRequest{Path: p, Data: data, ACL: acl, Flags: mode}, &resp); err != nil {
			return keeperError(err, p)
		}
	default:
		var r zkproto.CreateResponse
		if err := sh.c.call(zkproto.OpCreate, &zkproto.CreateRequest{Path: p, Data: data, ACL: acl, Flags: mode}, &r); err != nil {
			return keeperError(err, p)
		}
		resp.Path = r.Path
	}
	fmt.Fprintln(sh.errOut, "Created "+resp.Path)
	return nil
}

// children returns path's children as the server lists them.
func (sh *shell) children(p string, watch bool) ([]string, error) {
	var resp zkproto.GetChildrenResponse
	err := sh.c.call(zkproto.OpGetChildren, &zkproto.GetChildrenRequest{Path: p, Watch: watch}, &resp)
	return resp.Children, err
}

func child(p, k string) string {
	if p == "/" {
		return "/" + k
	}
	return p + "/" + k
}

// subtree lists path and its descendants breadth first (ZKUtil.listSubTreeBFS).
func (sh *shell) subtree(p string) ([]string, error) {
	out := []string{p}
	for i := 0; i < len(out); i++ {
		kids, err := sh.children(out[i], false)
		if err != nil {
			return nil, err
		}
		for _, k := range kids {
			out = append(out, child(out[i], k))
		}
	}
	return out, nil
}

func (sh *shell) lsR(p string, watch bool) error {
	paths, err := sh.subtree(p)
	if err != nil {
		return keeperError(err, p)
	}
	for _, q := range paths {
		if watch {
			sh.children(q, true)
		}
		fmt.Fprintln(sh.out, q)
	}
	return nil
}

// deleteAll deletes path's subtree, leaves first (ZKUtil.deleteRecursive).
func (sh *shell) deleteAll(p string) error {
	paths, err := sh.subtree(p)
	if err != nil {
		return keeperError(err, p)
	}
	for i := len(paths) - 1; i >= 0; i-- {
		if err := sh.c.call(zkproto.OpDelete, &zkproto.DeleteRequest{Path: paths[i], Version: -1}, nil); err != nil {
			var code zkproto.ErrCode
			if errors.As(err, &code) && code == zkproto.ErrNoNode {
				continue
			}
			return keeperError(err, paths[i])
		}
	}
	return nil
}

// configConnectString is config -c: the servers' client addresses.
func configConnectString(cfg string) string {
	var addrs []string
	for line := range strings.SplitSeq(cfg, "\n") {
		if !strings.HasPrefix(line, "server.") {
			continue
		}
		_, client, ok := strings.Cut(line, ";")
		if ok {
			addrs = append(addrs, client)
		}
	}
	return strings.Join(addrs, ",")
}

func (sh *shell) reconfig(args []string) error {
	o, err := parseOpts(args, "s", "vf")
	if err != nil {
		return usageError{}
	}
	var req zkproto.ReconfigRequest
	req.CurConfigID = -1
	if v, ok := o.flags["v"]; ok {
		n, err := strconv.ParseInt(strings.TrimPrefix(v, "0x"), 16, 64)
		if err != nil {
			return fmt.Errorf("-v must be followed by a long (configuration version)")
		}
		req.CurConfigID = n
	}
	// -add, -remove, -members are long options: parseOpts left them in args.
	for i := 0; i+1 < len(o.args); i += 2 {
		switch o.args[i] {
		case "-add":
			req.JoiningServers = o.args[i+1]
		case "-remove":
			req.LeavingServers = o.args[i+1]
		case "-members":
			req.NewMembers = o.args[i+1]
		default:
			return usageError{}
		}
	}
	var resp zkproto.GetDataResponse
	if err := sh.c.call(zkproto.OpReconfig, &req, &resp); err != nil {
		return keeperError(err, "")
	}
	fmt.Fprintln(sh.out, "Committed new configuration:\n"+string(resp.Data))
	if o.has("s") {
		sh.printStat(resp.Stat)
	}
	return nil
}

func zkraftVersion() string { return fourletter.ZkraftVersion }
