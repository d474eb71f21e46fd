package shard_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/canswarm/swarmhost/consensus/shard"
)

// richReplica holds every kind of NEED: open, decided, final, abandoned,
// released several times, and collected.
func richReplica(t testing.TB) *replica {
	r := newReplica()
	A, B, C, D, E := needID(1), needID(2), needID(3), needID(4), needID(5)
	r.mustAccept(t,
		decide(A, 1, 0),
		release(B, 1, shard.ReasonNoBids, 0), decide(B, 2, 1), release(B, 2, shard.ReasonExpired, 0),
		decide(C, 1, 0), finalize(C, 1, 0),
		release(D, 1, shard.ReasonNoBids, 1),
		decide(E, 1, 1), finalize(E, 1, 1), &shard.GC{Bucket: bucket(E), Needs: []string{E}},
	)
	r.apply(decide(A, 1, 1)) // a rejection, moves the index only
	return r
}

func TestSnapshotEmpty(t *testing.T) {
	body := "canswarm-shard-snapshot 1\n" + `{"collected":0,"last_index":0,"needs":0}` + "\n"
	sum := sha256.Sum256([]byte(body))
	want := body + "sha256:" + hex.EncodeToString(sum[:]) + "\n"
	if got := save(t, shard.New()); string(got) != want {
		t.Fatalf("got %q\nwant %q", got, want)
	}
}

func TestSnapshotRoundTrip(t *testing.T) {
	r := richReplica(t)
	snap := save(t, r.m)
	m := shard.New()
	if err := m.Load(bytes.NewReader(snap)); err != nil {
		t.Fatal(err)
	}
	if again := save(t, m); !bytes.Equal(again, snap) {
		t.Fatalf("Save after Load differs:\n%s\n%s", snap, again)
	}
	if m.Stats() != r.m.Stats() {
		t.Fatalf("stats %+v, want %+v", m.Stats(), r.m.Stats())
	}
	// The restored shard answers the next commands as the original does.
	loaded := &replica{m: m, next: r.next}
	for _, c := range []shard.Command{
		decide(needID(1), 1, 0), decide(needID(1), 1, 1), finalize(needID(1), 1, 0),
		decide(needID(2), 3, 0), release(needID(2), 1, shard.ReasonNoBids, 0), decide(needID(5), 1, 1),
		&shard.GC{Bucket: bucket(needID(3)), Before: 1000},
	} {
		if a, b := r.apply(c).Encode(), loaded.apply(c).Encode(); !bytes.Equal(a, b) {
			t.Fatalf("%s: original %s, restored %s", c.Encode(), a, b)
		}
	}
}

func TestSnapshotUnknownVersion(t *testing.T) {
	r := richReplica(t)
	before := save(t, r.m)
	snap := bytes.Replace(before, []byte("canswarm-shard-snapshot 1\n"), []byte("canswarm-shard-snapshot 2\n"), 1)
	err := r.m.Load(bytes.NewReader(snap))
	if !errors.Is(err, shard.ErrSnapshotVersion) || !strings.Contains(err.Error(), `version "2"`) {
		t.Fatalf("Load of version 2: %v", err)
	}
	if after := save(t, r.m); !bytes.Equal(before, after) {
		t.Fatal("a failed Load changed the state")
	}
}

// Any change to a snapshot, or a truncation, is refused.
func TestSnapshotCorruption(t *testing.T) {
	snap := save(t, richReplica(t).m)
	for i := range snap {
		for _, bit := range []byte{1, 0x20} {
			bad := bytes.Clone(snap)
			bad[i] ^= bit
			if err := shard.New().Load(bytes.NewReader(bad)); err == nil {
				t.Fatalf("byte %d ^ %#x accepted", i, bit)
			}
		}
	}
	for n := range len(snap) {
		if err := shard.New().Load(bytes.NewReader(snap[:n])); err == nil {
			t.Fatalf("truncation to %d bytes accepted", n)
		}
	}
	if err := shard.New().Load(bytes.NewReader(append(bytes.Clone(snap), '\n'))); err == nil {
		t.Fatal("trailing data accepted")
	}
	if err := shard.New().Load(strings.NewReader("hello\n")); err == nil || !strings.Contains(err.Error(), "not a shard snapshot") {
		t.Fatalf("no header: %v", err)
	}
}

// reseal rebuilds a snapshot's checksum after edit changed its lines
// (header excluded), so that only the state checks can refuse it.
func reseal(snap []byte, edit func(lines []string) []string) []byte {
	lines := strings.Split(strings.TrimSuffix(string(snap), "\n"), "\n")
	body := strings.Join(append(lines[:1], edit(lines[1:len(lines)-1])...), "\n") + "\n"
	sum := sha256.Sum256([]byte(body))
	return []byte(body + "sha256:" + hex.EncodeToString(sum[:]) + "\n")
}

// Snapshots that are well-formed but hold a state the rules cannot reach
// are refused.
func TestSnapshotInvalidState(t *testing.T) {
	r := newReplica()
	N, M := needID(1), needID(2)
	if bucket(N) == bucket(M) || N > M {
		N, M = M, N // keep N first in order
	}
	r.mustAccept(t, decide(N, 1, 0), release(N, 1, shard.ReasonExpired, 0), decide(N, 2, 1), decide(M, 1, 0))
	snap := save(t, r.m)
	if err := shard.New().Load(bytes.NewReader(reseal(snap, func(l []string) []string { return l }))); err != nil {
		t.Fatalf("resealed unchanged snapshot refused: %v", err)
	}
	// on edits, in order, the line of NEED need (or the counts line for "").
	on := func(need string, oldNew ...string) func([]string) []string {
		return func(l []string) []string {
			for i := range l {
				if (need == "" && i == 0) || (need != "" && strings.Contains(l[i], `"need":"`+need+`"}`)) {
					for j := 0; j < len(oldNew); j += 2 {
						l[i] = strings.Replace(l[i], oldNew[j], oldNew[j+1], 1)
					}
				}
			}
			return l
		}
	}
	decideM := `"decide":` + string(decide(M, 1, 0).Encode())
	cases := []struct {
		name, why string
		edit      func([]string) []string
	}{
		{"fence reused", "reused", on(M, `"fence":4`, `"fence":1`)},
		{"fence above last_index", "above last_index", on(M, `"fence":4`, `"fence":9`)},
		{"fences not increasing", "not increasing", on(N, `"fence":3`, `"fence":1`)},
		{"DECIDE without a fence", "not increasing", on(M, `"fence":4`, `"fence":0`)},
		{"fence without DECIDE", "a fence without a DECIDE", on(M, decideM, `"decide":null`)},
		{"past epoch not released", "a past epoch needs a RELEASE", on(N, string(release(N, 1, shard.ReasonExpired, 0).Encode()), "null")},
		{"past epoch abandoning", "a past epoch needs a RELEASE", on(N, `"max_epochs":0`, `"max_epochs":1`)},
		{"release of another epoch", "another NEED or epoch", on(N, `"epoch":1,"max_epochs"`, `"epoch":2,"max_epochs"`)},
		{"DECIDE of another NEED", "another NEED or epoch", on(M, decideM, `"decide":`+string(decide(N, 1, 0).Encode()))},
		{"malformed DECIDE", "malformed", on(M, `"verifiers":[`, `"verifiers":["`+pk(0)+`",`)},
		{"FINALIZE in a DECIDE's place", "where another command was expected", on(M, decideM, `"decide":`+string(finalize(M, 1, 0).Encode()))},
		{"needs out of order", "ascending", func(l []string) []string { l[1], l[2] = l[2], l[1]; return l }},
		{"needs count too high", "NEED 2", on("", `"needs":2`, `"needs":3`)},
		{"needs count too low", "checksum", on("", `"needs":2`, `"needs":1`)},
		{"last_index too low", "above last_index", on("", `"last_index":4`, `"last_index":3`)},
		{"non-canonical line", "not canonical", on(M, `{"abandoned"`, `{ "abandoned"`)},
		{"non-canonical counts", "not canonical", on("", `{"collected"`, `{ "collected"`)},
		{"unknown key", "unknown field", on(M, `{"abandoned"`, `{"x":1,"abandoned"`)},
		{"abandoned without cause", "released exactly when abandoned", on(M, `"abandoned":false`, `"abandoned":true`, `"finished_at":0`, `"finished_at":5`)},
		{"current epoch released, not abandoned", "released exactly when abandoned", func(l []string) []string {
			return on(M, `"release":null`, `"release":`+string(release(M, 1, shard.ReasonExpired, 0).Encode()))(l)
		}},
		{"finished_at on a live NEED", "finished_at set on a live NEED", on(M, `"finished_at":0`, `"finished_at":5`)},
		{"finalize undecided epoch", "undecided epoch", on(M, decideM, `"decide":null`, `"fence":4`, `"fence":0`,
			`"finalize":null`, `"finalize":`+string(finalize(M, 1, 0).Encode()), `"finished_at":0`, `"finished_at":4`)},
		{"final without finished_at", "not increasing", on(M, `"finalize":null`, `"finalize":`+string(finalize(M, 1, 0).Encode()))},
		{"collected also tracked", "also tracked", func(l []string) []string {
			l[0] = strings.Replace(l[0], `"collected":0`, `"collected":1`, 1)
			return append(l, `"`+N+`"`)
		}},
		{"collected not a ref", "not a ref", func(l []string) []string {
			l[0] = strings.Replace(l[0], `"collected":0`, `"collected":1`, 1)
			return append(l, `"sha256:00"`)
		}},
	}
	unchanged := reseal(snap, func(l []string) []string { return l })
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			bad := reseal(bytes.Clone(snap), tc.edit)
			if bytes.Equal(bad, unchanged) {
				t.Fatal("the edit changed nothing")
			}
			err := shard.New().Load(bytes.NewReader(bad))
			if err == nil || !strings.Contains(err.Error(), tc.why) {
				t.Fatalf("Load: %v, want an error saying %q\n%s", err, tc.why, bad)
			}
		})
	}
}

// Raft indices are uint64: a fence above 2^53 snapshots and restores.
func TestSnapshotLargeIndex(t *testing.T) {
	m := shard.New()
	if res := m.Apply(1<<60, decide(needID(1), 1, 0).Encode()); res.Fence != 1<<60 {
		t.Fatalf("%s", res.Encode())
	}
	snap := save(t, m)
	if err := shard.New().Load(bytes.NewReader(snap)); err != nil {
		t.Fatal(err)
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestSaveReportsWriteError(t *testing.T) {
	if err := richReplica(t).m.Save(failWriter{}); err == nil {
		t.Fatal("Save to a failing writer returned nil")
	}
}
