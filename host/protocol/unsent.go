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
// so between rounds the core's list is empty, unless the shell could not
// sign one (its key gone). A crash while the round's lines are written
// can keep the input's line and lose those of the envelopes it made (a
// torn round: a thread's file written in part, or one thread's file and
// not another's). The core rebuilt from that trail has taken the input
// (an agent's answer, an evaluation, a consensus outcome) and would not
// ask for its envelopes again; this list is what it still owes, and redo
// (a start's Configure) asks for each again: the same draft, so the same
// envelope, id and all, which a replay of the trail expects (it checks
// that every envelope the rules emit is in the trail).
type unsentDraft struct {
	thread string // the thread whose input made it
	sender string
	draft  envelope.Draft
}

// matches says whether e may be the envelope made of this draft: the same
// sender, thread, verb and Lamport time. A sender's Lamport times on a
// thread only grow, so on a thread no two drafts share all four; a NEED's
// thread is its own id, not known before it is prepared, and two NEEDs a
// local agent made on two threads at the same Lamport time do
// (steppedBack tells them apart).
func (d *unsentDraft) matches(e *envelope.Envelope) bool {
	return d.sender == e.SenderPK && d.draft.Lamport == e.Lamport && d.draft.Verb == e.Verb && d.draft.ThreadID == e.ThreadID
}

// steppedBack takes e off the unsent list, if it is there. When more than
// one draft matches, the one whose envelope is e is found by preparing
// them (rare: two NEEDs alike but for their thread of origin).
func (c *Core) steppedBack(e *envelope.Envelope) {
	first, n := -1, 0
	for i := range c.unsent {
		if c.unsent[i].matches(e) {
			if first < 0 {
				first = i
			}
			n++
		}
	}
	if n > 1 {
		for i := first; i < len(c.unsent); i++ {
			d := &c.unsent[i]
			if !d.matches(e) {
				continue
			}
			if p, err := envelope.Prepare(d.draft, d.sender); err == nil && p.ID == e.ID {
				first = i
				break
			}
		}
	}
	if first >= 0 {
		c.unsent = slices.Delete(c.unsent, first, first+1)
	}
}

// sendUnsent asks again, in order, for every envelope not stepped back
// (redo), as this start's configuration allows: a draft of an agent no
// longer configured, or revoked, is dropped and the drop recorded (what an
// agent answered must not leave this host under a key revoked since, and a
// removed agent's key is gone); so is a draft that cannot be prepared,
// unrecorded (a loud core never kept it, having recorded the failure; a
// quiet one could not tell).
func (c *Core) sendUnsent() {
	kept := c.unsent[:0]
	for _, d := range c.unsent {
		if d.sender != c.cfg.HostPK {
			a := c.agents[d.sender]
			reason := ""
			switch {
			case a == nil:
				reason = "the agent is no longer configured (its plugin was removed)"
			case c.agentRevoked(a):
				reason = "the agent's key or token was revoked on this host"
			}
			if reason != "" {
				c.record(d.thread, "outcome", map[string]any{"event": "unsent_envelope_dropped", "agent_pk": d.sender,
					"verb": d.draft.Verb, "lamport": d.draft.Lamport, "reason": reason})
				continue
			}
		}
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
