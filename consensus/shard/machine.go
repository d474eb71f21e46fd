package shard

import (
	"encoding/hex"
	"fmt"
	"sync"

	"github.com/canswarm/swarmhost/abi/envelope"
)

// Machine is the state of one DECIDE shard. The zero value is not usable;
// call New. A Machine is safe for concurrent use: Apply, GC and Load
// exclude each other and every reader.
type Machine struct {
	mu        sync.RWMutex
	last      uint64                // last applied log index
	needs     map[string]*needState // live NEEDs by id
	collected map[[32]byte]struct{} // SHA-256 of the NEEDs dropped by GC
	counts    counts
}

type counts struct{ decided, finalized, abandoned uint64 }

// needState is one NEED. epochs[i] is epoch i+1, the last one is current.
type needState struct {
	id         string
	bucket     uint8
	epochs     []epochState
	final      *Finalize // the accepted FINALIZE
	abandoned  bool      // released at its last epoch with max_epochs used up
	finishedAt uint64    // index of the FINALIZE or of the abandoning RELEASE
}

type epochState struct {
	decide  *Decide  // the accepted DECIDE, or nil
	fence   uint64   // its log index
	release *Release // the accepted RELEASE, or nil
}

// New returns an empty shard: no NEEDs, last applied index 0.
func New() *Machine {
	return &Machine{needs: map[string]*needState{}, collected: map[[32]byte]struct{}{}}
}

func (n *needState) current() uint64 { return uint64(len(n.epochs)) }

func (n *needState) cur() *epochState { return &n.epochs[len(n.epochs)-1] }

// at returns epoch e, or nil when the NEED has not reached it.
func (n *needState) at(e uint64) *epochState {
	if e < 1 || e > n.current() {
		return nil
	}
	return &n.epochs[e-1]
}

func (n *needState) finished() bool { return n.final != nil || n.abandoned }

// live returns the decision of the current epoch while it stands: nil when
// the epoch is undecided or was released (abandoned).
func (n *needState) live() *epochState {
	if c := n.cur(); c.decide != nil && c.release == nil {
		return c
	}
	return nil
}

// Apply applies the command cmd, committed at Raft log index index, and
// answers it. It never panics and never fails: every problem is a rejected
// Result. index must be above the last applied index (Raft indices only
// grow); an index that is not is answered wrong_state and changes nothing.
// Every other index becomes the last applied one, whatever the answer.
func (m *Machine) Apply(index uint64, cmd []byte) Result {
	m.mu.Lock()
	defer m.mu.Unlock()
	if index <= m.last {
		return Result{Reason: envelope.CodeWrongState,
			Detail: fmt.Sprintf("log index %d is not above the last applied index %d", index, m.last)}
	}
	m.last = index
	c, rej := parse(cmd)
	if rej != nil {
		detail := rej.Detail
		if rej.Field != "" {
			detail = rej.Field + ": " + detail
		}
		return Result{Reason: rej.Code, Detail: detail}
	}
	switch c := c.(type) {
	case *Decide:
		return m.decide(index, c)
	case *Release:
		return m.release(index, c)
	case *Finalize:
		return m.finalize(index, c)
	default:
		return m.gc(c.(*GC))
	}
}

// needKey is the SHA-256 in a well-formed NEED id.
func needKey(need string) (k [32]byte) {
	hex.Decode(k[:], []byte(need[len(envelope.RefPrefix):]))
	return k
}

// Stats counts what a shard holds.
type Stats struct {
	Needs     uint64 // NEEDs tracked (not collected)
	Decided   uint64 // accepted DECIDEs held: one per decided epoch of a tracked NEED
	Finalized uint64 // tracked NEEDs that are final
	Abandoned uint64 // tracked NEEDs that are abandoned
	Collected uint64 // NEEDs dropped by GC
	LastIndex uint64 // the last applied log index
}

// Stats returns the shard's counts.
func (m *Machine) Stats() Stats {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return Stats{Needs: uint64(len(m.needs)), Decided: m.counts.decided, Finalized: m.counts.finalized,
		Abandoned: m.counts.abandoned, Collected: uint64(len(m.collected)), LastIndex: m.last}
}

// Collected reports whether GC dropped the NEED.
func (m *Machine) Collected(need string) bool {
	if !envelope.IsRef(need) {
		return false
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	_, ok := m.collected[needKey(need)]
	return ok
}
