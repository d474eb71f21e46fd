package parallel

import (
	"sync/atomic"
	"testing"
	"time"
)

// For and ForLong call f once for every index, below the serial threshold and above
// it, whatever the chunking.
func TestForCallsEveryIndexOnce(t *testing.T) {
	for _, n := range []int{0, 1, 63, 64, 65, 1000, 1023} {
		counts := make([]atomic.Int32, n)
		For(n, func(i int) { counts[i].Add(1) })
		ForLong(n, func(i int) { counts[i].Add(1) })
		for i := range counts {
			if c := counts[i].Load(); c != 2 {
				t.Fatalf("n=%d: f(%d) called %d times by For and ForLong, want once by each", n, i, c)
			}
		}
	}
}

// Work started with no goroutine of its own is done by its helpers alone,
// each index once; with goroutines of its own, Wait returns without help.
func TestStartCallsEveryIndexOnce(t *testing.T) {
	for _, workers := range []int{0, 1, 3} {
		for _, n := range []int{0, 1, 33, 1000} {
			counts := make([]atomic.Int32, n)
			start := Start
			if n%2 == 1 {
				start = StartEach
			}
			w := start(n, workers, func(i int) { counts[i].Add(1) })
			if workers == 0 {
				done := make(chan struct{})
				go func() { w.Help(); close(done) }()
				w.Help()
				<-done
			}
			w.Wait()
			for i := range counts {
				if c := counts[i].Load(); c != 1 {
					t.Fatalf("workers=%d n=%d: f(%d) called %d times", workers, n, i, c)
				}
			}
		}
	}
}

// A few long calls are shared out one by one: with five calls and one
// goroutine besides the helper, both run some of them at once.
func TestStartSharesFewLongCalls(t *testing.T) {
	var running, most atomic.Int32
	w := Start(5, 1, func(int) {
		n := running.Add(1)
		for {
			m := most.Load()
			if n <= m || most.CompareAndSwap(m, n) {
				break
			}
		}
		time.Sleep(20 * time.Millisecond)
		running.Add(-1)
	})
	w.Help()
	w.Wait()
	if most.Load() < 2 {
		t.Fatalf("at most %d of the five calls ran at once, want 2", most.Load())
	}
}
