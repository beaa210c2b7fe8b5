//go:build explore

package chaos

import (
	"bufio"
	"encoding/json"
	"os"
	"sort"
	"testing"

	"github.com/anishathalye/porcupine"
)

// TestReplay checks a saved register history again and explains a failure: with
// CHAOS_REPLAY=path/register-history.jsonl (as a failed history writes it) it prints,
// for each key whose history is not linearizable, the longest linearizable prefix's
// end and the operations that cannot follow it.
//
//	CHAOS_REPLAY=/tmp/zkraft-chaos/.../register-history.jsonl go test -tags explore -run TestReplay -v ./integration/chaos/
func TestReplay(t *testing.T) {
	path := os.Getenv("CHAOS_REPLAY")
	if path == "" {
		t.Fatal("set CHAOS_REPLAY to a register-history.jsonl to check it")
	}
	ops, err := loadHistory(path)
	if err != nil {
		t.Fatal(err)
	}
	model := registerModel.ToModel()
	for _, part := range model.Partition(ops) {
		res, info := porcupine.CheckOperationsVerbose(model, part, 0)
		if res == porcupine.Ok {
			continue
		}
		key := part[0].Input.(regInput).Key
		best := []porcupine.Operation{}
		for _, ls := range info.PartialLinearizationsOperations() {
			for _, l := range ls {
				if len(l) > len(best) {
					best = l
				}
			}
		}
		t.Errorf("k%d: %d operations, not linearizable; the longest linearizable prefix has %d:", key, len(part), len(best))
		for _, op := range best[max(0, len(best)-8):] {
			t.Logf("  … %s [%d, %d] client %d %s", model.DescribeOperation(op.Input, op.Output), op.Call, op.Return, op.ClientId, model.DescribeOperationMetadata(op.Metadata))
		}
		in := map[porcupine.Operation]bool{}
		for _, op := range best {
			in[op] = true
		}
		var rest []porcupine.Operation
		for _, op := range part {
			if !in[op] {
				rest = append(rest, op)
			}
		}
		sort.Slice(rest, func(i, j int) bool { return rest[i].Call < rest[j].Call })
		t.Logf("  operations left, by call time:")
		for _, op := range rest[:min(len(rest), 8)] {
			t.Logf("  ! %s [%d, %d] client %d %s", model.DescribeOperation(op.Input, op.Output), op.Call, op.Return, op.ClientId, model.DescribeOperationMetadata(op.Metadata))
		}
	}
}

func loadHistory(path string) ([]porcupine.Operation, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var ops []porcupine.Operation
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var rec struct {
			Client int       `json:"client"`
			Call   int64     `json:"call_ns"`
			Return int64     `json:"return_ns"`
			Input  regInput  `json:"input"`
			Output regOutput `json:"output"`
			Server string    `json:"server"`
		}
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			return nil, err
		}
		if rec.Return < 0 {
			rec.Return = never
		}
		ops = append(ops, porcupine.Operation{ClientId: rec.Client, Call: rec.Call, Return: rec.Return, Input: rec.Input, Output: rec.Output, Metadata: rec.Server})
	}
	return ops, sc.Err()
}
