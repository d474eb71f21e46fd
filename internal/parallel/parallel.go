package parallel

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// serialBelow is the smallest n For spreads over goroutines; chunk is how
// many indices a goroutine takes at once.
const (
	serialBelow = 64
	chunk       = 32
)

// For calls f(i) for every i in [0, n), on GOMAXPROCS goroutines taking
// chunks of indices in turn, and returns when every call has returned.
// Below 64 indices (or on one core) it calls f in order on the caller's
// goroutine. f must be safe to call concurrently for different i.
func For(n int, f func(i int)) {
	workers := runtime.GOMAXPROCS(0)
	if n < serialBelow || workers == 1 {
		for i := 0; i < n; i++ {
			f(i)
		}
		return
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				start := int(next.Add(chunk)) - chunk
				if start >= n {
					return
				}
				for i := start; i < min(start+chunk, n); i++ {
					f(i)
				}
			}
		}()
	}
	wg.Wait()
}
