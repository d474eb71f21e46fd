package host

import (
	"testing"
)

// The modules a run or a configuration still needs stay held; the others
// are released, once.
func TestModuleHolds(t *testing.T) {
	m := newModuleHolds()
	released := map[string]int{}
	hold := func(gen uint64, ref string) {
		m.generation(gen).hold(ref, nil, func() { released[ref]++ })
	}
	hold(0, "A") // the start's configuration
	_, doneA, err := m.take("A")
	if err != nil {
		t.Fatal(err)
	}
	g1 := m.begin()
	hold(g1, "B") // A replaced by B
	g2 := m.begin()
	hold(g2, "C") // a second reload made before the first is stepped: B replaced by C
	m.keepOnly(map[string]bool{"B": true}, g1)
	if released["A"] != 0 {
		t.Fatal("A released while a run asked for it is under way")
	}
	if released["C"] != 0 {
		t.Fatal("C, named by a reload not yet stepped, released when an earlier one was")
	}
	doneA()
	doneA() // a second call changes nothing
	if released["A"] != 1 {
		t.Fatalf("A released %d times once its run ended, want 1", released["A"])
	}
	if _, _, err := m.take("A"); err == nil {
		t.Fatal("a released module was taken")
	}
	m.keepOnly(map[string]bool{"C": true}, g2)
	if released["B"] != 1 || released["C"] != 0 {
		t.Fatalf("after the second reload: released %v, want B once and C kept", released)
	}
	hold(m.begin(), "C") // held again by a third: the second acquisition goes at once
	if released["C"] != 1 {
		t.Fatalf("a module held twice kept both acquisitions: %v", released)
	}
	m.releaseAll()
	if released["C"] != 2 {
		t.Fatalf("releaseAll: %v", released)
	}
}
