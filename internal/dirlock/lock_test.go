package dirlock

import (
	"errors"
	"testing"
)

// A second Acquire of the same lock fails with ErrHeld, in the same
// process too, until the first is released; Release twice is harmless.
func TestAcquireIsExclusive(t *testing.T) {
	dir := t.TempDir()
	l, err := Acquire(dir, "x.lock")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Acquire(dir, "x.lock"); !errors.Is(err, ErrHeld) {
		t.Fatalf("a second Acquire: %v, want ErrHeld", err)
	}
	other, err := Acquire(dir, "y.lock")
	if err != nil {
		t.Fatalf("another lock name in the same folder: %v", err)
	}
	other.Release()
	l.Release()
	l.Release()
	again, err := Acquire(dir, "x.lock")
	if err != nil {
		t.Fatalf("Acquire after Release: %v", err)
	}
	again.Release()
}

// Held tells a held lock from one no process holds, and from a lock file
// that was never made; probing takes nothing an Acquire would miss.
func TestHeld(t *testing.T) {
	dir := t.TempDir()
	if held, known, err := Held(dir, "x.lock"); err != nil || held || known {
		t.Fatalf("no lock file: held %v known %v %v, want neither", held, known, err)
	}
	l, err := Acquire(dir, "x.lock")
	if err != nil {
		t.Fatal(err)
	}
	if held, known, err := Held(dir, "x.lock"); err != nil || !held || !known {
		t.Fatalf("while held: held %v known %v %v", held, known, err)
	}
	l.Release()
	if held, known, err := Held(dir, "x.lock"); err != nil || held || !known {
		t.Fatalf("after release: held %v known %v %v", held, known, err)
	}
	again, err := Acquire(dir, "x.lock")
	if err != nil {
		t.Fatalf("Acquire after a probe: %v", err)
	}
	again.Release()
}
