package parallel

import (
	"runtime"
	"sync"
	"sync/atomic"
)

const (
	// serialBelow is the n under which For runs f on the calling
	// goroutine alone: starting goroutines costs more than it saves.
	serialBelow = 64
	// maxChunk is the most indices a goroutine takes at a time; fewer when
	// there are few, so that a handful of long calls (loading modules) is
	// shared out too.
	maxChunk = 32
)

// For calls f(i) for every i in [0, n), on every core, and returns when
// all calls have returned. f must be safe to call concurrently.
func For(n int, f func(i int)) {
	workers := runtime.GOMAXPROCS(0)
	if n < serialBelow || workers == 1 {
		for i := 0; i < n; i++ {
			f(i)
		}
		return
	}
	ForLong(n, f)
}

// ForLong is For without its serial threshold, for calls long enough (a
// whole file read and decoded) that even two are worth running side by
// side.
func ForLong(n int, f func(i int)) {
	w := Start(n, runtime.GOMAXPROCS(0)-1, f)
	w.Help()
	w.Wait()
}

// Work is a set of independent calls f(0..n-1) shared out in chunks to
// the goroutines Start began and to any goroutine that calls Help.
type Work struct {
	n     int
	chunk int
	f     func(i int)
	next  atomic.Int64
	wg    sync.WaitGroup
}

// Start begins calling f(i) for every i in [0, n) on workers goroutines
// (none when workers <= 0: the calls then wait for Help). It returns at
// once. Wait returns when every call has returned.
func Start(n int, workers int, f func(i int)) *Work {
	// About four chunks per goroutine (the helper's included), so that
	// goroutines that finish early take over the rest.
	return start(n, workers, min(max(n/(4*(max(workers, 0)+1)), 1), maxChunk), f)
}

// StartEach is Start taking one index at a time: for calls that each cost
// far more than taking the next index (a signature check, tens of
// microseconds), so that the goroutines finish together, not a chunk
// apart.
func StartEach(n int, workers int, f func(i int)) *Work {
	return start(n, workers, 1, f)
}

func start(n, workers, chunk int, f func(i int)) *Work {
	w := &Work{n: n, f: f, chunk: chunk}
	w.wg.Add(n)
	for range max(workers, 0) {
		go w.Help()
	}
	return w
}

// Help makes the calling goroutine take chunks of the calls not yet begun
// until none is left. A goroutine that has finished its own work lends
// its core this way instead of leaving it to the scheduler.
func (w *Work) Help() {
	for {
		start := int(w.next.Add(int64(w.chunk))) - w.chunk
		if start >= w.n {
			return
		}
		end := min(start+w.chunk, w.n)
		for i := start; i < end; i++ {
			w.f(i)
		}
		w.wg.Add(start - end)
	}
}

// Wait returns when every call has returned. Unless Start began at least
// one goroutine, someone must call Help, or Wait never returns.
func (w *Work) Wait() { w.wg.Wait() }
