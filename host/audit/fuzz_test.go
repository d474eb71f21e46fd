package audit_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/canswarm/swarmhost/host/audit"
)

// FuzzAuditLine: a trail line read back from disk may be anything; parsing
// and checking it never panics, and what parses re-encodes to its own bytes.
func FuzzAuditLine(f *testing.F) {
	dir, _ := fixtureForFuzz(f)
	matches, _ := filepath.Glob(filepath.Join(dir, "*.jsonl"))
	for _, m := range matches {
		text, _ := os.ReadFile(m)
		for _, line := range bytes.Split(text, []byte("\n")) {
			if len(line) > 0 {
				f.Add(line)
			}
		}
	}
	f.Add([]byte(`{"envelope":"x","kind":"envelope","prev":"","reason":"malformed","received_lamport":0,"seq":1,"verdict":"rejected"}`))
	f.Fuzz(func(t *testing.T, line []byte) {
		rec, err := audit.ParseLine(line)
		if err != nil {
			return
		}
		_ = audit.CheckRecord(rec, audit.Unthreaded)
		again := encodeRecord(t, *rec)
		if !bytes.Equal(again, line) {
			t.Fatalf("parsed line does not re-encode to itself:\n%s\n%s", line, again)
		}
	})
}

func fixtureForFuzz(f *testing.F) (string, string) {
	dir := f.TempDir()
	tr, err := audit.Open(dir, nil)
	if err != nil {
		f.Fatal(err)
	}
	defer tr.Close()
	tr.AppendRejected([]byte("{bad"), "malformed", 1)
	return dir, ""
}
