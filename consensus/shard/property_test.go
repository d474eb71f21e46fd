package shard_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"testing"

	"pgregory.net/rapid"

	"github.com/canswarm/swarmhost/consensus/shard"
)

// step is one generated command: its bytes (sometimes indented, so that a
// repeat is not always spelled the same) and the gap to its log index.
type step struct {
	cmd shard.Command
	in  []byte
	gap uint64
}

// propNeeds are the NEEDs the properties use; the first two share a bucket
// so that GC by bucket meets more than one NEED.
var propNeeds = []string{needID(1), sameBucketNeed(needID(1), 0), needID(2)}

var reasons = []string{shard.ReasonExpired, shard.ReasonYielded, shard.ReasonInvalidated, shard.ReasonNoBids}

// drawStep draws the next command. Epochs are drawn around the NEED's
// current epoch in m, and earlier steps are repeated, so that repeats,
// conflicts, stale and future epochs, finals and abandons all occur. gc
// allows GC commands.
func drawStep(t *rapid.T, m *shard.Machine, history []step, gc bool) step {
	gap := rapid.Uint64Range(1, 3).Draw(t, "gap")
	if len(history) > 0 && rapid.IntRange(0, 4).Draw(t, "repeat") == 0 {
		s := rapid.SampledFrom(history).Draw(t, "earlier")
		s.gap = gap
		return s
	}
	n := rapid.SampledFrom(propNeeds).Draw(t, "need")
	cur, finishedAt := uint64(1), uint64(0)
	if rec, ok := m.Lookup(n); ok {
		cur, finishedAt = rec.Epoch, rec.FinishedAt
	}
	e := rapid.SampledFrom([]uint64{cur, cur, cur, cur + 1, max(cur-1, 1), 1}).Draw(t, "epoch")
	v := rapid.IntRange(0, 1).Draw(t, "variant")
	var c shard.Command
	switch op := rapid.IntRange(0, 9).Draw(t, "op"); {
	case op < 4:
		c = decide(n, e, v)
	case op < 6:
		c = release(n, e, reasons[v], rapid.SampledFrom([]uint64{0, 2, 3}).Draw(t, "max_epochs"))
	case op < 8 || !gc:
		c = finalize(n, e, v)
	case op == 8:
		c = &shard.GC{Bucket: bucket(n), Needs: []string{n}}
	default:
		before := rapid.Uint64Range(1, 600).Draw(t, "before")
		if finishedAt != 0 { // just below, at or above the NEED's finish
			before = finishedAt - 1 + rapid.Uint64Range(0, 2).Draw(t, "near")
		}
		c = &shard.GC{Bucket: bucket(n), Before: max(before, 1)}
	}
	in := c.Encode()
	if rapid.IntRange(0, 3).Draw(t, "spelling") == 0 {
		var b bytes.Buffer
		json.Indent(&b, in, " ", "\t")
		in = b.Bytes()
	}
	return step{c, in, gap}
}

// GoString keeps rapid's reports readable.
func (s step) GoString() string { return fmt.Sprintf("%s (gap %d)", s.cmd.Encode(), s.gap) }

// run draws and applies up to max steps, calling apply for each.
func run(t *rapid.T, m *shard.Machine, max int, gc bool, apply func(i int, index uint64, s step)) uint64 {
	var history []step
	index := uint64(0)
	for i := range rapid.IntRange(1, max).Draw(t, "steps") {
		s := drawStep(t, m, history, gc)
		history = append(history, s)
		index += s.gap
		apply(i, index, s)
	}
	return index
}

type epochKey struct {
	need  string
	epoch uint64
}

// checker holds what the safety properties need across a run.
type checker struct {
	decidedBy   map[epochKey]string // (NEED, epoch) -> content of the accepted DECIDE
	finalizedBy map[string]string   // NEED -> content of the accepted FINALIZE
	answers     map[string][]byte   // content -> first accepted answer
	maxFence    uint64
}

func newChecker() *checker {
	return &checker{map[epochKey]string{}, map[string]string{}, map[string][]byte{}, 0}
}

// check applies s at index to m and checks the properties of PROTOCOL.md
// section 9 against the state before and after.
func (k *checker) check(t *rapid.T, m *shard.Machine, index uint64, s step) shard.Result {
	c, content := s.cmd, string(s.cmd.Encode())
	var need string
	var epoch uint64
	switch c := c.(type) {
	case *shard.Decide:
		need, epoch = c.Need, c.Epoch
	case *shard.Release:
		need, epoch = c.Need, c.Epoch
	case *shard.Finalize:
		need, epoch = c.Need, c.Epoch
	}
	if g, ok := c.(*shard.GC); ok {
		return k.checkGC(t, m, index, s, g)
	}
	before, tracked := m.Lookup(need)
	collected := m.Collected(need)
	res := m.Apply(index, s.in)
	after, _ := m.Lookup(need)
	if res.Accepted != (res.Reason == "") || (!res.Accepted && !res.Reason.Valid()) {
		t.Fatalf("accepted %v with reason %q", res.Accepted, res.Reason)
	}
	first, repeat := k.answers[content]
	switch {
	case repeat && !collected:
		if !bytes.Equal(res.Encode(), first) {
			t.Fatalf("repeat of %s answered %s, first %s", content, res.Encode(), first)
		}
		return res
	case !res.Accepted:
		if !reflect.DeepEqual(before, after) {
			t.Fatalf("rejected %s changed the NEED", content)
		}
		return res
	case repeat: // accepted after GC
		t.Fatalf("%s accepted again after its NEED was collected", content)
	}
	k.answers[content] = res.Encode()
	if !tracked {
		before = shard.Record{Epoch: 1, State: shard.StateOpen}
	}
	if collected || before.Epoch != epoch || before.State == shard.StateFinal || before.State == shard.StateAbandoned {
		t.Fatalf("%s accepted on a NEED at epoch %d, state %s, collected %v", content, before.Epoch, before.State, collected)
	}
	switch c.(type) {
	case *shard.Decide:
		key := epochKey{need, epoch}
		if prev, ok := k.decidedBy[key]; ok {
			t.Fatalf("second DECIDE for %v: %s after %s", key, content, prev)
		}
		k.decidedBy[key] = content
		if res.Fence != index || res.Fence <= k.maxFence {
			t.Fatalf("fence %d at index %d, previous fence %d", res.Fence, index, k.maxFence)
		}
		k.maxFence = res.Fence
	case *shard.Finalize:
		if prev, ok := k.finalizedBy[need]; ok {
			t.Fatalf("second FINALIZE for %s: %s after %s", need, content, prev)
		}
		k.finalizedBy[need] = content
		if before.State != shard.StateDecided || res.Fence != before.Fence || !after.Finalized {
			t.Fatalf("FINALIZE accepted on %+v", before)
		}
	case *shard.Release:
		if after.Epoch != epoch+1 && after.State != shard.StateAbandoned {
			t.Fatalf("RELEASE of epoch %d left the NEED at %+v", epoch, after)
		}
	}
	return res
}

// checkGC checks that GC drops exactly the finished NEEDs it selects.
func (k *checker) checkGC(t *rapid.T, m *shard.Machine, index uint64, s step, g *shard.GC) shard.Result {
	want := map[string]bool{}
	for _, n := range propNeeds {
		rec, ok := m.Lookup(n)
		finished := ok && (rec.Finalized || rec.State == shard.StateAbandoned)
		selected := rec.Bucket == g.Bucket && (slices.Contains(g.Needs, n) || rec.FinishedAt < g.Before)
		want[n] = m.Collected(n) || (finished && selected)
	}
	wasCollected := m.Stats().Collected
	res := m.Apply(index, s.in)
	if !res.Accepted || res.Dropped != m.Stats().Collected-wasCollected {
		t.Fatalf("%s answered %s", s.cmd.Encode(), res.Encode())
	}
	for _, n := range propNeeds {
		if m.Collected(n) != want[n] {
			t.Fatalf("%s: collected %v, want %v", s.cmd.Encode(), m.Collected(n), want[n])
		}
		if _, ok := m.Lookup(n); ok && want[n] {
			t.Fatalf("%s: %s tracked and collected", s.cmd.Encode(), n)
		}
	}
	return res
}

func saveR(t *rapid.T, m *shard.Machine) []byte {
	var b bytes.Buffer
	if err := m.Save(&b); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func loadR(t *rapid.T, snap []byte) *shard.Machine {
	m := shard.New()
	if err := m.Load(bytes.NewReader(snap)); err != nil {
		t.Fatalf("Load: %v", err)
	}
	return m
}

// TestPropertySafety: for any sequence of commands, at most one DECIDE per
// (NEED, epoch), at most one FINALIZE per NEED, FINALIZE only on a decided
// current epoch, strictly increasing fences, repeats answered identically
// (GC included: a collected NEED is never decided again).
func TestPropertySafety(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		m, k := shard.New(), newChecker()
		run(t, m, 300, true, func(_ int, index uint64, s step) { k.check(t, m, index, s) })
	})
}

// TestPropertyReplicas: two replicas applying the same commands answer and
// snapshot byte for byte alike; a replica restored from a snapshot taken at
// any point answers the rest alike and ends with the same snapshot; and
// Save -> Load -> Save is the identity.
func TestPropertyReplicas(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		cut := rapid.IntRange(0, 200).Draw(t, "snapshot at")
		a, c := shard.New(), shard.New()
		var b *shard.Machine
		run(t, a, 200, true, func(i int, index uint64, s step) {
			if i == cut {
				snap := saveR(t, a)
				b = loadR(t, snap)
				if again := saveR(t, b); !bytes.Equal(again, snap) {
					t.Fatalf("Save -> Load -> Save differs at step %d", i)
				}
			}
			ra, rc := a.Apply(index, s.in).Encode(), c.Apply(index, s.in).Encode()
			if !bytes.Equal(ra, rc) {
				t.Fatalf("replicas answer %s and %s", ra, rc)
			}
			if b != nil {
				if rb := b.Apply(index, s.in).Encode(); !bytes.Equal(ra, rb) {
					t.Fatalf("restored replica answers %s, original %s", rb, ra)
				}
			}
		})
		if b == nil {
			b = loadR(t, saveR(t, a))
		}
		sa, sb, sc := saveR(t, a), saveR(t, b), saveR(t, c)
		if !bytes.Equal(sa, sb) || !bytes.Equal(sa, sc) {
			t.Fatal("replicas end with different snapshots")
		}
		if a.Stats() != b.Stats() || a.Stats() != c.Stats() {
			t.Fatalf("stats differ: %+v %+v %+v", a.Stats(), b.Stats(), c.Stats())
		}
		if again := saveR(t, loadR(t, sa)); !bytes.Equal(again, sa) {
			t.Fatal("Save -> Load -> Save differs at the end")
		}
	})
}

// TestPropertyStats: Stats agrees with the records.
func TestPropertyStats(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		m := shard.New()
		index := run(t, m, 200, true, func(_ int, index uint64, s step) { m.Apply(index, s.in) })
		var want shard.Stats
		want.LastIndex = index
		for _, n := range propNeeds {
			if m.Collected(n) {
				want.Collected++
			}
			rec, ok := m.Lookup(n)
			if !ok {
				continue
			}
			want.Needs++
			for _, e := range rec.Epochs {
				if e.Decide != nil {
					want.Decided++
				}
			}
			if rec.Finalized {
				want.Finalized++
			}
			if rec.State == shard.StateAbandoned {
				want.Abandoned++
			}
		}
		if got := m.Stats(); got != want {
			t.Fatalf("Stats %+v, records say %+v", got, want)
		}
	})
}

// TestPropertyEachAccepted: EachAccepted gives every accepted command of a
// NEED not collected, once, with its first accepted answer byte for byte,
// and nothing else; HasAccepted says yes to exactly those.
func TestPropertyEachAccepted(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		m := shard.New()
		first := map[string][]byte{} // content -> first accepted answer
		var accepted []shard.Command
		run(t, m, 200, true, func(_ int, index uint64, s step) {
			res := m.Apply(index, s.in)
			content := string(s.cmd.Encode())
			if res.Accepted && s.cmd.Op() != shard.OpGC && first[content] == nil {
				first[content] = res.Encode()
				accepted = append(accepted, s.cmd)
			}
		})
		given := map[string]bool{}
		m.EachAccepted(func(cmd shard.Command, res shard.Result) {
			content := string(cmd.Encode())
			if given[content] {
				t.Fatalf("%s given twice", content)
			}
			given[content] = true
			if first[content] == nil {
				t.Fatalf("%s given, never accepted", content)
			}
			if !bytes.Equal(res.Encode(), first[content]) {
				t.Fatalf("%s given with %s, first answered %s", content, res.Encode(), first[content])
			}
		})
		for _, c := range accepted {
			content := string(c.Encode())
			held := !m.Collected(needOf(c))
			if given[content] != held || m.HasAccepted(c) != held {
				t.Fatalf("%s: given %v, HasAccepted %v, want %v (its NEED collected: %v)", content, given[content],
					m.HasAccepted(c), held, !held)
			}
		}
		if fresh := shard.New(); len(accepted) > 0 && fresh.HasAccepted(accepted[0]) {
			t.Fatal("an empty shard has accepted something")
		}
		// EachCollected names exactly the NEEDs Collected reports, in
		// order, each with its bucket, and their count is Stats'.
		var told []string
		m.EachCollected(func(need string, b uint8) {
			if !m.Collected(need) || b != bucket(need) {
				t.Fatalf("EachCollected gave %s (bucket %d): Collected %v, its bucket %d", need, b, m.Collected(need),
					bucket(need))
			}
			told = append(told, need)
		})
		if !slices.IsSorted(told) || len(slices.Compact(slices.Clone(told))) != len(told) ||
			uint64(len(told)) != m.Stats().Collected {
			t.Fatalf("EachCollected gave %d NEEDs (%v), Stats counts %d collected", len(told), told, m.Stats().Collected)
		}
	})
}

// needOf is the NEED a DECIDE, RELEASE or FINALIZE is about.
func needOf(c shard.Command) string {
	switch c := c.(type) {
	case *shard.Decide:
		return c.Need
	case *shard.Release:
		return c.Need
	case *shard.Finalize:
		return c.Need
	}
	return ""
}
