package audit_test

import (
	"bytes"
	"encoding/json"
	"fmt"
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

// A line no head records yet is checked before a head is written over it:
// a whole last line whose envelope no longer verifies (its signature
// edited), or whose prev names no line, stops the recovery with the thread
// and line, whether the head lags behind it, is missing or is damaged;
// the same line intact is recovered.
func TestRecoverChecksTheLinesNoHeadRecords(t *testing.T) {
	base, need := fixture(t)
	path := threadFile(t, base, need)
	text, _ := os.ReadFile(path)
	lines := bytes.SplitAfter(text, []byte("\n"))
	lines = lines[:len(lines)-1]
	last := lines[len(lines)-1]
	// Another hex digit at one place: still canonical JSON, still a record.
	editHexAt := func(marker string) []byte {
		at := bytes.Index(last, []byte(marker)) + len(marker)
		edited := bytes.Clone(last)
		edited[at] = "10"[min(int(last[at]-'0'), 1)] // '0' becomes '1', anything else '0'
		if edited[at] == last[at] {
			t.Fatalf("no edit at %s", marker)
		}
		return edited
	}
	badSig, badPrev := editHexAt(`"sig":"`), editHexAt(`"prev":"sha256:`)
	for name, lastLine := range map[string][]byte{"intact": last, "signature edited": badSig, "prev edited": badPrev} {
		for _, head := range []string{"behind", "missing", "damaged"} {
			dir := t.TempDir()
			if err := os.CopyFS(dir, os.DirFS(base)); err != nil {
				t.Fatal(err)
			}
			os.WriteFile(threadFile(t, dir, need), append(bytes.Join(lines[:len(lines)-1], nil), lastLine...), 0o644)
			headPath := strings.TrimSuffix(threadFile(t, dir, need), ".jsonl") + ".head"
			switch head {
			case "behind":
				h, _ := json.Marshal(map[string]any{"seq": len(lines) - 1,
					"hash": audit.LineHash(bytes.TrimSuffix(lines[len(lines)-2], []byte("\n")))})
				os.WriteFile(headPath, h, 0o644)
			case "missing":
				os.Remove(headPath)
			case "damaged":
				os.WriteFile(headPath, []byte(`{"seq":`), 0o644)
			}
			tr, err := audit.Open(dir, nil)
			if err != nil {
				t.Fatal(err)
			}
			err = tr.RecoverThreads()
			tr.Close()
			wantLine := fmt.Sprintf("line %d, which the head does not record yet, is damaged", len(lines))
			switch {
			case name == "intact" && err != nil:
				t.Errorf("intact last line, head %s: %v", head, err)
			case name != "intact" && (err == nil || !strings.Contains(err.Error(), need) || !strings.Contains(err.Error(), wantLine)):
				t.Errorf("last line's %s, head %s: recovery says %v, want thread %s %s", name, head, err, need, wantLine)
			}
		}
	}
}
