package protocol_test

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/canswarm/swarmhost/abi/envelope"
	"github.com/canswarm/swarmhost/consensus/shard"
	"github.com/canswarm/swarmhost/host/protocol"
)

// The world outside the shell, in memory: a one-replica DECIDE shard
// running the real rules, a scripted policy oracle, and the clock.

// propose commits a command to the in-memory shard (the real rules) and
// steps it back as Applied when accepted.
func (h *harness) propose(c protocol.Command) {
	bucket, _ := shard.BucketOf(c.Need)
	var cmd shard.Command
	switch c.Op {
	case "GC":
		// What it dropped is the shard's business: the core hears nothing
		// back (the node's loop does not step an applied GC either).
		bucket, _ = shard.BucketOf(c.Needs[0])
		h.index++
		res := h.shard.Apply(h.index, (&shard.GC{Bucket: bucket, Needs: c.Needs}).Encode())
		if !res.Accepted {
			h.line("propose %s -> rejected %s: %s", h.cmdString(c), res.Reason, res.Detail)
			return
		}
		h.line("propose %s -> accepted dropped=%d", h.cmdString(c), res.Dropped)
		return
	case "DECIDE":
		cmd = &shard.Decide{Need: c.Need, Bucket: bucket, Epoch: c.Epoch, Proposal: c.Proposal, WorkerPK: c.WorkerPK,
			Verifiers: c.Verifiers, DecideID: c.DecideID}
	case "RELEASE":
		cmd = &shard.Release{Need: c.Need, Bucket: bucket, Epoch: c.Epoch, Reason: c.Reason, MaxEpochs: c.MaxEpochs}
	case "FINALIZE":
		cmd = &shard.Finalize{Need: c.Need, Bucket: bucket, Epoch: c.Epoch, Commit: c.Commit, FinalizeID: c.FinalizeID}
	default:
		h.fatalf("unknown command op %q", c.Op)
	}
	h.index++
	res := h.shard.Apply(h.index, cmd.Encode())
	if !res.Accepted {
		h.line("propose %s -> rejected %s: %s", h.cmdString(c), res.Reason, res.Detail)
		return
	}
	what := fmt.Sprintf("fence=%d", res.Fence)
	if c.Op == "RELEASE" {
		what = fmt.Sprintf("next_epoch=%d", res.NextEpoch)
		if res.Abandoned {
			what = "abandoned"
		}
	}
	h.line("propose %s -> accepted %s", h.cmdString(c), what)
	h.lastApplied = &protocol.Applied{At: h.now, Index: h.index, Cmd: c, Fence: res.Fence, NextEpoch: res.NextEpoch,
		Abandoned: res.Abandoned}
	h.step(h.lastApplied)
}

// Default answers of the policy oracle.
var policyDefaults = map[string]string{"admit": "true", "bid": "true", "route": "null", "verify": "true"}

// evaluate is the scripted policy oracle: the answer of entry on e is the
// first override of entry.<envelope name>, entry.<sender name>, entry, or
// the default; "error" fails the evaluation. The digest hashes the
// entrypoint, the envelope id and the answer, so equal evaluations have
// equal digests.
func (h *harness) evaluate(entry string, e *envelope.Envelope) (result json.RawMessage, digest, errText string) {
	val, ok := policyDefaults[entry]
	if !ok {
		val = "null"
	}
	for _, k := range []string{entry + "." + h.name(e.ID), entry + "." + h.name(e.SenderPK), entry} {
		if v, ok := h.policy[k]; ok {
			val = v
			break
		}
	}
	if val == "error" {
		return nil, "", "scripted evaluation failure"
	}
	digest = envelope.HashRef([]byte(entry + "\n" + e.ID + "\n" + val))
	label := entry + "/" + h.name(e.ID)
	switch {
	case val == policyDefaults[entry]:
	case strings.ContainsAny(val, `"{[`):
		label += "(other)"
	default:
		label += "(" + val + ")"
	}
	h.names[digest] = label
	return json.RawMessage(val), digest, ""
}

func (h *harness) eval(a *protocol.EvalPolicy) {
	res, digest, errText := h.evaluate(a.Entrypoint, a.Envelope)
	if errText != "" {
		h.line("eval %s %s -> error: %s", a.Entrypoint, h.name(a.Envelope.ID), errText)
	} else {
		h.line("eval %s %s -> %s", a.Entrypoint, h.name(a.Envelope.ID), res)
	}
	h.lastEval = fmt.Sprintf("%s %s", a.Entrypoint, h.name(a.Envelope.ID))
	h.lastPolicy = &protocol.PolicyDone{At: h.now, ReqID: a.ReqID, Result: res, GasUsed: 100, Digest: digest, Err: errText}
	h.step(h.lastPolicy)
}

// fire advances the clock to target, firing each due timer in time order
// and delivering after each.
func (h *harness) fire(target int64) {
	for {
		i := -1
		for j, tm := range h.timers {
			if tm.at <= target && (i < 0 || tm.at < h.timers[i].at) {
				i = j
			}
		}
		if i < 0 {
			break
		}
		tm := h.timers[i]
		h.timers = append(h.timers[:i], h.timers[i+1:]...)
		if tm.at > h.now {
			h.now = tm.at
		}
		h.line("timer %s @%d", h.name(tm.thread), h.now)
		h.step(&protocol.TimerFired{At: h.now, Thread: tm.thread})
		h.deliver(-1)
	}
	if target > h.now {
		h.now = target
	}
}
