package host

import (
	"time"

	"github.com/canswarm/swarmhost/abi/envelope"
	"github.com/canswarm/swarmhost/consensus"
	"github.com/canswarm/swarmhost/host/audit"
	"github.com/canswarm/swarmhost/host/cas"
	"github.com/canswarm/swarmhost/host/protocol"
)

// TakeApplied hands the loop a command as if this host's replica had
// applied it (the feed's path), for tests of what the loop makes of
// commands a single node cannot produce (a GC found in a snapshot).
func TakeApplied(h *Host, a consensus.Applied) { h.takeApplied(a) }

// WithStoreWrapper returns cfg with the node's CAS wrapped by wrap (a
// store that fails on cue).
func WithStoreWrapper(cfg Config, wrap func(cas.Store) cas.Store) Config {
	cfg.wrapStore = wrap
	return cfg
}

// WithProposeFault returns cfg with every proposal of an op failed by
// fault first (nil lets it through to the shards).
func WithProposeFault(cfg Config, fault func(op string) error) Config {
	cfg.proposeFault = fault
	return cfg
}

// SetRepublishLines sets how far back a start publishes the node's own
// envelopes again (ownTail) and returns the old value.
func SetRepublishLines(n int) int {
	old := republishLines
	republishLines = n
	return old
}

// WithPublishFault returns cfg with every publication of the node's own
// envelopes failed by fault first (nil lets it through to the bus).
func WithPublishFault(cfg Config, fault func(e *envelope.Envelope) error) Config {
	cfg.publishFault = fault
	return cfg
}

// ReadTrailWhole is ReadTrail as it was until session 12: every thread
// read whole, then merged by one sort (the reference for StepTrail's
// merge).
func ReadTrailWhole(dir string, tokenOf func(ref string) []byte) ([]TrailInput, error) {
	return readTrail(dir, tokenOf, rejectedLines{}, decodeUnchecked)
}

// MostThreadsOpen is the most threads StepTrail's merge holds open at once
// reading dir.
func MostThreadsOpen(dir string) (int, error) {
	threads, err := audit.Threads(dir)
	if err != nil {
		return 0, err
	}
	m, err := newTrailMerge(dir, threads)
	if err != nil {
		return 0, err
	}
	defer m.close()
	for {
		_, ok, err := m.next()
		if err != nil {
			return 0, err
		}
		if !ok {
			return m.openMax, nil
		}
	}
}

// SetStreamAbove sets the size over which StepTrail reads a thread's file
// a line at a time, and returns the previous one.
func SetStreamAbove(n int64) int64 {
	old := streamAbove
	streamAbove = n
	return old
}

// LockCore takes the lock the loop steps the core under, as a loop stuck
// in a step would hold it, until unlock.
func LockCore(h *Host) (unlock func()) {
	h.mu.Lock()
	return h.mu.Unlock
}

// SetStallAfter sets how long Health lets the loop take no input while
// inputs wait, and returns the previous value.
func SetStallAfter(d time.Duration) time.Duration {
	old := stallAfter
	stallAfter = d
	return old
}

// SetHealthClock sets the time Health judges a certificate's end by, and
// returns a function that puts the clock back.
func SetHealthClock(now func() time.Time) (restore func()) {
	old := healthNow
	healthNow = now
	return func() { healthNow = old }
}

// TickReconcile hands the loop an anti-entropy tick, as the node's
// ReconcileEvery timer does, and waits for the round that took it.
func TickReconcile(h *Host) { tick(h, &protocol.ReconcileDue{At: nowMS()}) }

// TickCheckpoint hands the loop a periodic CheckpointDue, as the node's
// CheckpointEvery timer does, and waits for the round that took it.
func TickCheckpoint(h *Host) { tick(h, h.checkpointDue()) }

func tick(h *Host, in protocol.Input) {
	done := make(chan struct{})
	select {
	case h.inputs <- item{in: in, periodic: true, done: done}:
		<-done
	case <-h.ctx.Done():
	}
}
