package replay_test

import (
	"bytes"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/canswarm/swarmhost/host/audit"
	"github.com/canswarm/swarmhost/host/replay"
)

var (
	flagTamperAll  = flag.Bool("tamper.all", false, "edit every line of the demo trail in every way (make chaos), not a seeded sample")
	flagTamperSeed = flag.Uint64("tamper.seed", 1, "seed of the sample of single-line edits")
	flagTamperN    = flag.Int("tamper.n", 24, "single-line edits in the sample")
)

// lineEdit is one way of editing a single line of a thread file; ok false
// when it does not apply to line i.
type lineEdit struct {
	name string
	edit func(ls [][]byte, i int) (out [][]byte, ok bool)
}

// bumpDigit changes the first digit after field's key.
func bumpDigit(line []byte, field string) ([]byte, bool) {
	k := bytes.Index(line, []byte(`"`+field+`":`))
	if k < 0 {
		return nil, false
	}
	out := bytes.Clone(line)
	k += len(field) + 3
	if out[k] == '9' {
		out[k] = '8'
	} else {
		out[k]++
	}
	return out, true
}

// changeByteAt changes the first hex digit or lowercase letter at or after
// pct percent of the line.
func changeByteAt(line []byte, pct int) ([]byte, bool) {
	out := bytes.Clone(line)
	for j := len(out) * pct / 100; j < len(out); j++ {
		if c := out[j]; c >= '0' && c <= '8' || c >= 'a' && c <= 'y' {
			out[j]++
			return out, true
		}
	}
	return nil, false
}

var lineEdits = func() []lineEdit {
	edits := []lineEdit{
		{"deleted", func(ls [][]byte, i int) ([][]byte, bool) { return append(ls[:i:i], ls[i+1:]...), true }},
		{"swapped with the next", func(ls [][]byte, i int) ([][]byte, bool) {
			if i+1 == len(ls) {
				return nil, false
			}
			ls[i], ls[i+1] = ls[i+1], ls[i]
			return ls, true
		}},
	}
	for _, field := range []string{"seq", "received_lamport"} {
		edits = append(edits, lineEdit{field + " changed", func(ls [][]byte, i int) ([][]byte, bool) {
			l, ok := bumpDigit(ls[i], field)
			ls[i] = l
			return ls, ok
		}})
	}
	for _, pct := range []int{10, 30, 50, 70, 90} {
		edits = append(edits, lineEdit{fmt.Sprintf("a byte at %d%% changed", pct), func(ls [][]byte, i int) ([][]byte, bool) {
			l, ok := changeByteAt(ls[i], pct)
			ls[i] = l
			return ls, ok
		}})
	}
	return edits
}()

// Any single line of any thread of a demo trail, edited in any of these
// ways (deleted, swapped with the next, its seq or received_lamport
// changed, one byte changed anywhere in it: a payload, a signature, a
// prev, a recorded outcome or gas figure), makes replay fail naming that
// thread and line. make test edits a seeded sample; make chaos every line
// every way (-tamper.all).
func TestTamperAnySingleLine(t *testing.T) {
	base := demoTrail(t)
	threads, err := audit.Threads(filepath.Join(base, "audit"))
	if err != nil {
		t.Fatal(err)
	}
	type target struct {
		thread, file string
		line         int // 0-based
		edit         lineEdit
	}
	var all []target
	for _, th := range threads {
		name, _ := audit.FileName(th)
		for i := range lines(t, filepath.Join(base, "audit", name)) {
			for _, e := range lineEdits {
				all = append(all, target{th, name, i, e})
			}
		}
	}
	cases := all
	if !*flagTamperAll {
		rng := rand.New(rand.NewPCG(*flagTamperSeed, 0))
		rng.Shuffle(len(all), func(i, j int) { all[i], all[j] = all[j], all[i] })
		cases = all[:min(*flagTamperN, len(all))]
	}
	applied := 0
	for _, c := range cases {
		dir, err := os.MkdirTemp("", "swarmhost-tamper-")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.CopyFS(dir, os.DirFS(base)); err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, "audit", c.file)
		ls, ok := c.edit.edit(lines(t, path), c.line)
		if ok {
			applied++
			write(t, path, ls)
			// Read whole and streamed: runBoth fails unless both name the
			// same line.
			_, err := runBoth(t, replay.Options{DataDir: dir})
			_, th, line := located(err)
			if th != c.thread || line != c.line+1 {
				t.Errorf("thread %s line %d %s: replay said %v; want it named (go test ./host/replay -run TestTamperAnySingleLine -tamper.seed=%d)",
					c.thread, c.line+1, c.edit.name, err, *flagTamperSeed)
			}
		}
		os.RemoveAll(dir) // ~100 MB each: the demo's compiled agents
	}
	if applied == 0 {
		t.Fatal("no edit applied")
	}
	t.Logf("%d single-line edits (of %d line and way pairs), each located", applied, len(all))
}
