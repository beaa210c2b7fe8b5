package chaos

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/anishathalye/porcupine"
)

// never is the return time of an operation whose outcome is unknown: porcupine may
// place it anywhere after its call.
const never = math.MaxInt64

// history is what one run's clients and nemesis saw.
type history struct {
	start time.Time

	mu         sync.Mutex
	reg        []porcupine.Operation
	faults     []string
	violations []string
	counts     map[string]int
	members    string // which member has which client address, for the saved faults
}

func newHistory() *history {
	return &history{start: time.Now(), counts: map[string]int{}}
}

func (h *history) now() int64 { return time.Since(h.start).Nanoseconds() }

func (h *history) stamp() string { return fmt.Sprintf("t+%.3fs", time.Since(h.start).Seconds()) }

func (h *history) fault(format string, args ...any) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.faults = append(h.faults, h.stamp()+" "+fmt.Sprintf(format, args...))
}

func (h *history) violation(format string, args ...any) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.violations = append(h.violations, h.stamp()+" "+fmt.Sprintf(format, args...))
}

func (h *history) count(what string, n int) {
	h.mu.Lock()
	h.counts[what] += n
	h.mu.Unlock()
}

func (h *history) addReg(op porcupine.Operation) {
	h.mu.Lock()
	h.reg = append(h.reg, op)
	h.counts["register ops"]++
	if op.Output.(regOutput).Unknown {
		h.counts["register ops unknown"]++
	}
	h.mu.Unlock()
}

func (h *history) summary() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var keys []string
	for k := range h.counts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s %d", k, h.counts[k]))
	}
	return strings.Join(parts, ", ")
}

// save writes the register history (JSON, one operation a line), the fault events
// and the violations to dir, and porcupine's visualization when info is not nil.
func (h *history) save(dir string, info *porcupine.LinearizationInfo) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	var b strings.Builder
	desc := registerModel.DescribeOperation
	for _, op := range h.reg {
		ret := op.Return
		if ret == never {
			ret = -1
		}
		line, _ := json.Marshal(map[string]any{"client": op.ClientId, "call_ns": op.Call, "return_ns": ret, "input": op.Input, "output": op.Output, "op": desc(op.Input, op.Output), "server": op.Metadata})
		b.Write(line)
		b.WriteByte('\n')
	}
	files := []string{filepath.Join(dir, "register-history.jsonl"), filepath.Join(dir, "faults.txt"), filepath.Join(dir, "violations.txt")}
	bodies := []string{b.String(), h.members + strings.Join(h.faults, "\n") + "\n", strings.Join(h.violations, "\n") + "\n"}
	for i, f := range files {
		if err := os.WriteFile(f, []byte(bodies[i]), 0o644); err != nil {
			return nil, err
		}
	}
	if info != nil {
		f := filepath.Join(dir, "register-linearizability.html")
		if err := porcupine.VisualizePath(registerModel.ToModel(), *info, f); err != nil {
			return nil, err
		}
		files = append(files, f)
	}
	return files, nil
}
