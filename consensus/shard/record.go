package shard

import "slices"

// State is where a NEED stands in the shard. The shard sees only the
// consensus steps of PROTOCOL.md section 5 (CLAIM and COMMIT are not
// committed through it), so a DECIDED NEED may be claimed or committed
// elsewhere.
type State string

// The states of a tracked NEED.
const (
	StateOpen      State = "open"      // current epoch not decided
	StateDecided   State = "decided"   // current epoch decided, not final
	StateFinal     State = "final"     // finalized
	StateAbandoned State = "abandoned" // released with max_epochs used up
)

// Record is a copy of what a shard holds about one NEED.
type Record struct {
	Need       string        `json:"need"`
	Bucket     uint8         `json:"bucket"`
	Epoch      uint64        `json:"epoch"`       // the current epoch (the last one, for an abandoned NEED)
	State      State         `json:"state"`       //
	Decision   *Decide       `json:"decision"`    // the standing DECIDE of the current epoch; nil when open or abandoned
	Fence      uint64        `json:"fence"`       // Decision's fence; 0 when there is none
	Finalized  bool          `json:"finalized"`   //
	Finalize   *Finalize     `json:"finalize"`    // the accepted FINALIZE, when final
	FinishedAt uint64        `json:"finished_at"` // log index of the FINALIZE or of the abandoning RELEASE; 0 while live
	Epochs     []EpochRecord `json:"epochs"`
}

// EpochRecord is one epoch of a NEED: its accepted DECIDE and RELEASE, if any.
type EpochRecord struct {
	Epoch   uint64   `json:"epoch"`
	Decide  *Decide  `json:"decide"`
	Fence   uint64   `json:"fence"`
	Release *Release `json:"release"`
}

// Lookup returns a copy of the record of a tracked NEED. It returns false
// for a NEED the shard has not accepted a command about, and for a
// collected one (see Collected).
func (m *Machine) Lookup(need string) (Record, bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	n := m.needs[need]
	if n == nil {
		return Record{}, false
	}
	r := Record{Need: n.id, Bucket: n.bucket, Epoch: n.current(), State: StateOpen,
		Finalized: n.final != nil, FinishedAt: n.finishedAt}
	if l := n.live(); l != nil {
		r.Decision, r.Fence, r.State = copyDecide(l.decide), l.fence, StateDecided
	}
	switch {
	case n.final != nil:
		f := *n.final
		r.Finalize, r.State = &f, StateFinal
	case n.abandoned:
		r.State = StateAbandoned
	}
	for i, es := range n.epochs {
		er := EpochRecord{Epoch: uint64(i + 1), Decide: copyDecide(es.decide), Fence: es.fence}
		if es.release != nil {
			rel := *es.release
			er.Release = &rel
		}
		r.Epochs = append(r.Epochs, er)
	}
	return r, true
}

func copyDecide(d *Decide) *Decide {
	if d == nil {
		return nil
	}
	c := *d
	c.Verifiers = slices.Clone(d.Verifiers)
	return &c
}
