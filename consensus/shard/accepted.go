package shard

import (
	"encoding/hex"
	"sort"

	"github.com/canswarm/swarmhost/abi/envelope"
)

// EachAccepted calls f with every command the shard has accepted and still
// holds (a NEED collected by GC holds none), each with the Result a repeat
// of it is answered with, which is the one it got, byte for byte: NEEDs in
// id order; for each, its epochs in order (the DECIDE, then the RELEASE),
// then its FINALIZE. A replica restored from a snapshot hands them on, as
// the commands a snapshot covers are not applied again.
func (m *Machine) EachAccepted(f func(cmd Command, res Result)) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	ids := make([]string, 0, len(m.needs))
	for id := range m.needs {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		n := m.needs[id]
		for e := uint64(1); e <= n.current(); e++ {
			es := n.at(e)
			if es.decide != nil {
				f(es.decide, epochAnswer(OpDecide, n, e))
			}
			if es.release != nil {
				f(es.release, epochAnswer(OpRelease, n, e))
			}
		}
		if n.final != nil {
			f(n.final, epochAnswer(OpFinalize, n, n.final.Epoch))
		}
	}
}

// HasAccepted reports whether the shard holds cmd as accepted: a repeat of
// it would be answered accepted without changing anything.
func (m *Machine) HasAccepted(cmd Command) bool {
	m.mu.RLock()
	defer m.mu.RUnlock()
	switch c := cmd.(type) {
	case *Decide:
		if n := m.needs[c.Need]; n != nil {
			es := n.at(c.Epoch)
			return es != nil && es.decide != nil && sameDecide(es.decide, c)
		}
	case *Release:
		if n := m.needs[c.Need]; n != nil {
			es := n.at(c.Epoch)
			return es != nil && es.release != nil && *es.release == *c
		}
	case *Finalize:
		if n := m.needs[c.Need]; n != nil {
			return n.final != nil && *n.final == *c
		}
	}
	return false
}

// EachCollected calls f with the id of every NEED the shard's GC dropped,
// in id order, each with its bucket. A replica restored from a snapshot
// tells of those it did not know collected: their commands are gone from
// the snapshot, so a host that had not learned how such a NEED ended
// learns at least that it did.
func (m *Machine) EachCollected(f func(need string, bucket uint8)) {
	m.mu.RLock()
	keys := make([][32]byte, 0, len(m.collected))
	for k := range m.collected {
		keys = append(keys, k)
	}
	m.mu.RUnlock()
	ids := make([]string, len(keys))
	for i, k := range keys {
		ids[i] = envelope.RefPrefix + hex.EncodeToString(k[:])
	}
	sort.Strings(ids)
	for _, id := range ids {
		b, _ := BucketOf(id)
		f(id, b)
	}
}
