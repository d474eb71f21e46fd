package audit_test

import (
	"bytes"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/canswarm/swarmhost/host/audit"
)

// A crash can stop a thread's last write at any byte, its head left on the
// line before (a head is written only after the lines it names are
// durable), or left damaged. For every thread of the fixture and every
// such stopping point, recovering the trail succeeds and leaves it whole:
// it verifies, its root is the root of its heads, and the thread keeps the
// lines that were whole (the cut one again when it was complete but for
// its head).
func TestRecoverFromACrashAtEveryByteOfALastLine(t *testing.T) {
	base, _ := fixture(t)
	threads, err := audit.Threads(base)
	if err != nil {
		t.Fatal(err)
	}
	cases := 0
	for _, th := range threads {
		text, _ := os.ReadFile(threadFile(t, base, th))
		lines := bytes.SplitAfter(text, []byte("\n"))
		lines = lines[:len(lines)-1] // the empty piece after the last newline
		last := lines[len(lines)-1]
		before := bytes.Join(lines[:len(lines)-1], nil)
		for cut := 0; cut <= len(last); cut++ {
			for _, head := range []string{"behind", "damaged"} {
				cases++
				dir := t.TempDir()
				if err := os.CopyFS(dir, os.DirFS(base)); err != nil {
					t.Fatal(err)
				}
				path := threadFile(t, dir, th)
				os.WriteFile(path, append(bytes.Clone(before), last[:cut]...), 0o644)
				headPath := strings.TrimSuffix(path, ".jsonl") + ".head"
				switch {
				case head == "damaged":
					os.WriteFile(headPath, []byte(`{"seq":`), 0o644)
				case len(lines) == 1:
					os.Remove(headPath) // the first line's head was never written
				default:
					h, _ := json.Marshal(map[string]any{"seq": len(lines) - 1,
						"hash": audit.LineHash(bytes.TrimSuffix(lines[len(lines)-2], []byte("\n")))})
					os.WriteFile(headPath, h, 0o644)
				}
				tr, err := audit.Open(dir, nil)
				if err != nil {
					t.Fatal(err)
				}
				if err := tr.RecoverThreads(); err != nil {
					t.Fatalf("%s cut at byte %d of its last line, head %s: recover: %v", th, cut, head, err)
				}
				heads, err := audit.Heads(dir)
				if err != nil {
					t.Fatalf("%s cut at byte %d, head %s: heads after recovery: %v", th, cut, head, err)
				}
				if root, err := tr.Root(); err != nil || root != audit.MerkleRoot(heads) {
					t.Fatalf("%s cut at byte %d, head %s: root %s (%v), the heads give %s", th, cut, head, root, err, audit.MerkleRoot(heads))
				}
				tr.Close()
				if _, err := audit.Verify(dir); err != nil {
					t.Fatalf("%s cut at byte %d, head %s: verify after recovery: %v", th, cut, head, err)
				}
				want := len(lines) - 1
				if cut == len(last) {
					want = len(lines) // whole, newline and all: kept, the head brought up to it
				}
				got := 0
				if b, err := os.ReadFile(path); err == nil {
					got = bytes.Count(b, []byte("\n"))
				}
				if got != want {
					t.Fatalf("%s cut at byte %d, head %s: %d lines after recovery, want %d", th, cut, head, got, want)
				}
			}
		}
	}
	t.Logf("%d crash points recovered", cases)
}
