package admin

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// DefaultCommandURL is admin.commandURL's default.
const DefaultCommandURL = "/commands"

// Command is one AdminServer command. Run returns its fields; an error becomes
// {"error": "...", "command": name}, as ZooKeeper answers a command that failed.
type Command struct {
	Names []string // primary name first, then aliases (monitor, mntr)
	Run   func(q url.Values) (Object, error)
}

// Probes answer /ready and /health.
type Probes struct {
	// Ready reports whether the member serves clients (it has a leader and has
	// caught up); a load balancer sends clients only to a ready member.
	Ready func() (bool, string)
	// Health reports whether the process is alive and able to go on (no fatal
	// error): a failed liveness probe restarts it.
	Health func() (bool, string)
}

// Handler serves the commands under commandURL (admin.commandURL, default
// /commands) and the probes at /ready and /health.
func Handler(commandURL string, cmds []Command, probes Probes) http.Handler {
	if commandURL == "" {
		commandURL = DefaultCommandURL
	}
	commandURL = "/" + strings.Trim(commandURL, "/")
	byName := map[string]*Command{}
	var primary []string
	for i := range cmds {
		c := &cmds[i]
		primary = append(primary, c.Names[0])
		for _, n := range c.Names {
			byName[n] = c
		}
	}
	slices.Sort(primary)
	mux := http.NewServeMux()
	mux.HandleFunc(commandURL, func(w http.ResponseWriter, r *http.Request) {
		if !allowed(w, r) {
			return
		}
		// ZooKeeper's list of links.
		var b strings.Builder
		b.WriteString("<h1>ZooKeeper AdminServer</h1>\n")
		for _, n := range primary {
			b.WriteString(`<a href="` + commandURL + "/" + n + `">` + n + "</a>\n<br/>\n")
		}
		w.Header().Set("Content-Type", "text/html")
		w.Write([]byte(b.String()))
	})
	mux.HandleFunc(commandURL+"/", func(w http.ResponseWriter, r *http.Request) {
		if !allowed(w, r) {
			return
		}
		name := strings.TrimPrefix(r.URL.Path, commandURL+"/")
		if i := strings.IndexByte(name, '/'); i >= 0 {
			name = name[:i] // ZooKeeper ignores what follows the command
		}
		var out Object
		c, ok := byName[name]
		switch {
		case !ok:
			out = Object{{"command", name}, {"error", "Unknown command: " + name}}
		default:
			res, err := c.Run(r.URL.Query())
			if err != nil {
				out = Object{{"error", err.Error()}, {"command", c.Names[0]}}
			} else {
				out = append(res, Field{"command", c.Names[0]}, Field{"error", nil})
			}
		}
		body, err := Pretty(out)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write(body)
	})
	probe := func(fn func() (bool, string)) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			if !allowed(w, r) {
				return
			}
			ok, why := true, "ok"
			if fn != nil {
				ok, why = fn()
			}
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			if !ok {
				w.WriteHeader(http.StatusServiceUnavailable)
			}
			w.Write([]byte(why + "\n"))
		}
	}
	mux.HandleFunc("/ready", probe(probes.Ready))
	mux.HandleFunc("/health", probe(probes.Health))
	return mux
}

// allowed admits GET and HEAD (ZooKeeper's AdminServer answers 405 to others, as
// to TRACE).
func allowed(w http.ResponseWriter, r *http.Request) bool {
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		return true
	}
	w.Header().Set("Allow", "GET, HEAD")
	http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	return false
}
