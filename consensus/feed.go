package consensus

import "sync"

// feed is an unbounded queue of applied commands from the replicas' Update
// (which must never block on a slow reader: it holds up the shard) to the
// one channel a reader takes them from. Nothing pushed is dropped while the
// node is open.
type feed struct {
	mu     sync.Mutex
	queue  []Applied
	wake   chan struct{} // capacity 1: "the queue may be non-empty"
	out    chan Applied
	closed chan struct{}
	once   sync.Once
	done   chan struct{}
}

func newFeed() *feed {
	f := &feed{wake: make(chan struct{}, 1), out: make(chan Applied), closed: make(chan struct{}), done: make(chan struct{})}
	go f.pump()
	return f
}

func (f *feed) push(a Applied) {
	f.mu.Lock()
	f.queue = append(f.queue, a)
	f.mu.Unlock()
	select {
	case f.wake <- struct{}{}:
	default:
	}
}

func (f *feed) pump() {
	defer close(f.done)
	defer close(f.out)
	for {
		f.mu.Lock()
		batch := f.queue
		f.queue = nil
		f.mu.Unlock()
		for _, a := range batch {
			select {
			case f.out <- a:
			case <-f.closed:
				return
			}
		}
		select {
		case <-f.wake:
		case <-f.closed:
			return
		}
	}
}

func (f *feed) close() {
	f.once.Do(func() { close(f.closed) })
	<-f.done
}
