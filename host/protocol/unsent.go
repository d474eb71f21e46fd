package protocol

import (
	"slices"

	"github.com/canswarm/swarmhost/abi/envelope"
)

// unsentDraft is an envelope the core asked its shell to publish (Publish)
// and has not seen stepped back (a Received of it, whatever its verdict).
//
// The shell signs and steps each envelope the core asks for in the round
// of the input that made it, and makes the round's lines durable at once;
// so between rounds the core's list is empty. A crash while the round's
// lines are written can keep the input's line and lose those of the
// envelopes it made (a torn round: a thread's file written in part, or
// one thread's file and not another's). The core rebuilt from that trail
// has taken the input (an agent's answer, an evaluation, a consensus
// outcome) and would not ask for its envelopes again; this list is what
// it still owes, and redo (a start's Configure) asks for each again: the
// same draft, so the same envelope, id and all, which a replay of the
// trail expects (it checks that every envelope the rules emit is in the
// trail).
type unsentDraft struct {
	sender string
	draft  envelope.Draft
}

// matches says whether e is the envelope made of this draft: the same
// sender, thread, verb and Lamport time (a sender's Lamport times on a
// thread only grow, so no second envelope has all four).
func (d *unsentDraft) matches(e *envelope.Envelope) bool {
	return d.sender == e.SenderPK && d.draft.Lamport == e.Lamport && d.draft.Verb == e.Verb && d.draft.ThreadID == e.ThreadID
}

// steppedBack takes e off the unsent list, if it is there.
func (c *Core) steppedBack(e *envelope.Envelope) {
	for i := range c.unsent {
		if c.unsent[i].matches(e) {
			c.unsent = slices.Delete(c.unsent, i, i+1)
			return
		}
	}
}

// sendUnsent asks again, in order, for every envelope not stepped back
// (redo). A draft that cannot be prepared is dropped: a loud core never
// kept it (it recorded the failure instead), a quiet one could not tell.
func (c *Core) sendUnsent() {
	kept := c.unsent[:0]
	for _, d := range c.unsent {
		e, err := envelope.Prepare(d.draft, d.sender)
		if err != nil {
			continue
		}
		kept = append(kept, d)
		c.emit(&Publish{Env: e})
	}
	clear(c.unsent[len(kept):])
	c.unsent = kept
}

// unsentPreparable is the unsent list without the drafts that cannot be
// prepared, which a quiet core keeps and a loud one does not (SameState).
func unsentPreparable(list []unsentDraft) []unsentDraft {
	var out []unsentDraft
	for _, d := range list {
		if _, err := envelope.Prepare(d.draft, d.sender); err == nil {
			out = append(out, d)
		}
	}
	return out
}
