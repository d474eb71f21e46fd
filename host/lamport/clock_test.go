package lamport_test

import (
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/canswarm/swarmhost/host/lamport"
)

func TestTickAndObserve(t *testing.T) {
	c, err := lamport.Open(filepath.Join(t.TempDir(), "clock"), 4)
	if err != nil {
		t.Fatal(err)
	}
	if l, _ := c.Tick(); l != 1 {
		t.Fatalf("first tick %d, want 1", l)
	}
	c.Observe(10)
	if l, _ := c.Tick(); l != 11 {
		t.Fatalf("tick after observing 10 is %d, want 11", l)
	}
	if err := c.Observe(3); err != nil { // older times do not move the clock back
		t.Fatal(err)
	}
	if l, _ := c.Tick(); l != 12 {
		t.Fatalf("tick %d, want 12", l)
	}
}

// A restarted clock never hands out a time it handed out before, even when
// the process stops without any shutdown.
func TestPersistenceAcrossRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "clock")
	seen := map[uint64]bool{}
	var last uint64
	for run := 0; run < 5; run++ {
		c, err := lamport.Open(path, 3)
		if err != nil {
			t.Fatal(err)
		}
		if run == 2 {
			c.Observe(1000)
		}
		for i := 0; i < 7; i++ {
			l, err := c.Tick()
			if err != nil {
				t.Fatal(err)
			}
			if seen[l] || l <= last {
				t.Fatalf("run %d: time %d reused or not increasing (last %d)", run, l, last)
			}
			seen[l], last = true, l
		}
		// The clock is dropped without Close: a crash.
	}
}

func TestConcurrentTicksAreUnique(t *testing.T) {
	c, err := lamport.Open(filepath.Join(t.TempDir(), "clock"), 16)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	seen := map[uint64]bool{}
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				l, err := c.Tick()
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				if seen[l] {
					t.Errorf("time %d handed out twice", l)
				}
				seen[l] = true
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(seen) != 1600 {
		t.Fatalf("%d distinct times, want 1600", len(seen))
	}
}

func TestObservedTimeSurvivesRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "clock")
	c, _ := lamport.Open(path, 4)
	if err := c.Observe(5000); err != nil {
		t.Fatal(err)
	}
	c2, err := lamport.Open(path, 4)
	if err != nil {
		t.Fatal(err)
	}
	if l, _ := c2.Tick(); l <= 5000 {
		t.Fatalf("restarted clock ticked %d, not above the 5000 it had observed", l)
	}
}

func TestCorruptFileRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "clock")
	if err := os.WriteFile(path, []byte("garbage"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := lamport.Open(path, 0); err == nil {
		t.Fatal("a clock file that cannot be read must stop the start, not reset the clock")
	}
}

func TestExhaustion(t *testing.T) {
	c, err := lamport.Open(filepath.Join(t.TempDir(), "clock"), 0)
	if err != nil {
		t.Fatal(err)
	}
	c.Observe(lamport.Max)
	if _, err := c.Tick(); err == nil {
		t.Fatal("tick past 2^53 must fail")
	}
}
