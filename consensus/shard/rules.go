package shard

import (
	"fmt"
	"slices"

	"github.com/canswarm/swarmhost/abi/envelope"
)

// The rules of PROTOCOL.md section 9. Each command is checked in this order:
//
//  1. a collected NEED: wrong_state;
//  2. a repeat of the accepted command (same content): its first answer;
//  3. a final or abandoned NEED: wrong_state;
//  4. an epoch below the current one: stale_fence;
//  5. an epoch above the current one: wrong_state;
//  6. the command's own condition (DECIDE: the epoch is undecided;
//     FINALIZE: the epoch is decided): wrong_state.

// need returns the NEED's state, a fresh one (not yet stored) for a NEED not
// seen, or a rejection for a collected NEED.
func (m *Machine) need(op Op, id string, bucket uint8) (n *needState, fresh bool, rej *Result) {
	if n := m.needs[id]; n != nil {
		return n, false, nil
	}
	if _, ok := m.collected[needKey(id)]; ok {
		return nil, false, &Result{Op: op, Need: id, Reason: envelope.CodeWrongState,
			Detail: "the NEED is finished and was collected"}
	}
	return &needState{id: id, bucket: bucket, epochs: make([]epochState, 1)}, true, nil
}

// reject answers a command about NEED n with code, describing n as it stands.
func reject(op Op, n *needState, code envelope.Code, detail string, args ...any) Result {
	r := Result{Op: op, Need: n.id, Reason: code, Detail: fmt.Sprintf(detail, args...), Epoch: n.current()}
	if l := n.live(); l != nil {
		r.Fence, r.DecideID = l.fence, l.decide.DecideID
	}
	return r
}

// gate runs checks 3 to 5 for a command naming epoch e.
func gate(op Op, n *needState, e uint64) *Result {
	var r Result
	switch cur := n.current(); {
	case n.final != nil:
		r = reject(op, n, envelope.CodeWrongState, "the NEED is final (finalized at epoch %d)", n.final.Epoch)
	case n.abandoned:
		r = reject(op, n, envelope.CodeWrongState, "the NEED is abandoned (max_epochs used up at epoch %d)", cur)
	case e < cur:
		r = reject(op, n, envelope.CodeStaleFence, "epoch %d is stale: the NEED is at epoch %d", e, cur)
	case e > cur:
		r = reject(op, n, envelope.CodeWrongState, "epoch %d is ahead: the NEED is at epoch %d", e, cur)
	default:
		return nil
	}
	return &r
}

// epochAnswer is the accepted answer about epoch e of n.
func epochAnswer(op Op, n *needState, e uint64) Result {
	es := n.at(e)
	r := Result{Accepted: true, Op: op, Need: n.id, Epoch: e, Fence: es.fence}
	if es.decide != nil {
		r.DecideID = es.decide.DecideID
	}
	if op == OpRelease {
		if n.abandoned && e == n.current() {
			r.Abandoned = true
		} else {
			r.NextEpoch = e + 1
		}
	}
	return r
}

func (m *Machine) decide(index uint64, d *Decide) Result {
	n, fresh, rej := m.need(OpDecide, d.Need, d.Bucket)
	if rej != nil {
		return *rej
	}
	if es := n.at(d.Epoch); es != nil && es.decide != nil && sameDecide(es.decide, d) {
		return epochAnswer(OpDecide, n, d.Epoch)
	}
	if r := gate(OpDecide, n, d.Epoch); r != nil {
		return *r
	}
	if c := n.cur(); c.decide != nil {
		return reject(OpDecide, n, envelope.CodeWrongState,
			"epoch %d is already decided (fence %d) by a different DECIDE", d.Epoch, c.fence)
	}
	*n.cur() = epochState{decide: d, fence: index}
	if fresh {
		m.needs[n.id] = n
	}
	m.counts.decided++
	return epochAnswer(OpDecide, n, d.Epoch)
}

func (m *Machine) release(index uint64, r *Release) Result {
	n, fresh, rej := m.need(OpRelease, r.Need, r.Bucket)
	if rej != nil {
		return *rej
	}
	if es := n.at(r.Epoch); es != nil && es.release != nil && *es.release == *r {
		return epochAnswer(OpRelease, n, r.Epoch)
	}
	if g := gate(OpRelease, n, r.Epoch); g != nil {
		return *g
	}
	if r.Reason == ReasonNoBids && n.cur().decide != nil {
		// A host whose bid window closed empty before it saw another
		// host's DECIDE must not undo that decision.
		return reject(OpRelease, n, envelope.CodeWrongState, "epoch %d is decided: a RELEASE for no_bids cannot end it", r.Epoch)
	}
	n.cur().release = r
	if r.MaxEpochs != 0 && r.Epoch >= r.MaxEpochs {
		n.abandoned, n.finishedAt = true, index
		m.counts.abandoned++
	} else {
		n.epochs = append(n.epochs, epochState{})
	}
	if fresh {
		m.needs[n.id] = n
	}
	return epochAnswer(OpRelease, n, r.Epoch)
}

func (m *Machine) finalize(index uint64, f *Finalize) Result {
	n, _, rej := m.need(OpFinalize, f.Need, f.Bucket)
	if rej != nil {
		return *rej
	}
	if n.final != nil && *n.final == *f {
		return epochAnswer(OpFinalize, n, f.Epoch)
	}
	if r := gate(OpFinalize, n, f.Epoch); r != nil {
		return *r
	}
	if n.cur().decide == nil {
		return reject(OpFinalize, n, envelope.CodeWrongState, "epoch %d is not decided", f.Epoch)
	}
	// A NEED not seen before has no DECIDE, so n is stored already.
	n.final, n.finishedAt = f, index
	m.counts.finalized++
	return epochAnswer(OpFinalize, n, f.Epoch)
}

// gc drops the finished NEEDs the command selects. Which NEEDs are dropped
// does not depend on the order of the map, so replicas agree.
func (m *Machine) gc(g *GC) Result {
	var dropped uint64
	drop := func(n *needState) {
		if n == nil || n.bucket != g.Bucket || !n.finished() {
			return
		}
		if g.Before != 0 && n.finishedAt >= g.Before {
			return
		}
		m.forget(n)
		dropped++
	}
	if len(g.Needs) > 0 {
		for _, id := range g.Needs {
			drop(m.needs[id])
		}
	} else {
		for _, n := range m.needs {
			drop(n)
		}
	}
	return Result{Accepted: true, Op: OpGC, Dropped: dropped}
}

// forget moves a NEED from the live set to the collected set.
func (m *Machine) forget(n *needState) {
	delete(m.needs, n.id)
	m.collected[needKey(n.id)] = struct{}{}
	m.counts.decided -= decidedEpochs(n)
	if n.final != nil {
		m.counts.finalized--
	}
	if n.abandoned {
		m.counts.abandoned--
	}
}

func decidedEpochs(n *needState) (k uint64) {
	for _, es := range n.epochs {
		if es.decide != nil {
			k++
		}
	}
	return k
}

func sameDecide(a, b *Decide) bool {
	return a.Need == b.Need && a.Bucket == b.Bucket && a.Epoch == b.Epoch && a.Proposal == b.Proposal &&
		a.WorkerPK == b.WorkerPK && a.DecideID == b.DecideID && slices.Equal(a.Verifiers, b.Verifiers)
}
