package protocol

import (
	"errors"
	"fmt"
	"sort"

	"github.com/canswarm/swarmhost/abi/envelope"
	"github.com/canswarm/swarmhost/host/protocol/quorum"
	"github.com/canswarm/swarmhost/host/protocol/route"
)

// open starts epoch t.epoch's bid window at time at.
func (c *Core) open(t *thread, at int64) {
	t.phase = PhaseOpen
	t.resetEpoch()
	t.windowEnd = at + int64(t.np.BidWindowMS)
	c.arm(t, t.windowEnd)
	if t.deadline > 0 {
		c.arm(t, t.deadline)
	}
}

// closeWindow chooses among the bids once the window has closed and every
// bid's evaluations are in: a DECIDE is proposed, or a RELEASE(no_bids).
func (c *Core) closeWindow(t *thread) {
	if t.phase != PhaseOpen || t.closing || c.now < t.windowEnd {
		return
	}
	var bids []route.Bid
	var revoked map[string]bool // proposal ids
	for _, b := range t.bids {
		if b.allowed == nil || !b.scoreDone {
			return // an evaluation is still out
		}
		// A bid accepted before its sender or token was revoked is not
		// chosen: its CLAIM would be refused.
		gone := c.isRevoked(b.env.SenderPK) || c.isRevoked(b.env.Capability)
		if gone {
			if revoked == nil {
				revoked = map[string]bool{}
			}
			revoked[b.env.ID] = true
		}
		bids = append(bids, route.Bid{ProposalID: b.env.ID, SenderPK: b.env.SenderPK, Price: b.price, EtaMs: b.eta,
			Allowed: *b.allowed && !t.excluded[b.env.SenderPK] && !gone, HasCapability: b.hasCap, Score: b.score})
	}
	dec, err := route.Select(t.id, bids, c.cfg.Shortlist)
	if errors.Is(err, route.ErrNoEligibleBid) && c.cfg.NoBidsGraceMS > 0 {
		if t.graceEnd == 0 {
			// Another host of the cluster may have received bids this
			// one has not: its DECIDE gets the first word.
			t.graceEnd = c.now + c.cfg.NoBidsGraceMS
			c.record(t.id, "outcome", map[string]any{"event": "no_bids_grace", "epoch": t.epoch, "until": t.graceEnd})
			c.arm(t, t.graceEnd)
		}
		if c.now < t.graceEnd {
			return
		}
	}
	t.closing = true
	if err != nil {
		if !errors.Is(err, route.ErrNoEligibleBid) {
			c.record(t.id, "outcome", map[string]any{"event": "routing_failed", "epoch": t.epoch, "error": err.Error()})
			t.noBidsWhy = "routing failed: " + err.Error()
		} else {
			t.noBidsWhy = noEligibleBid(t, bids, revoked)
		}
		c.proposeRelease(t, "no_bids")
		return
	}
	verifiers, err := quorum.Choose(t.id, c.verifierPool(t.np.Capability), dec.WorkerPK, int(t.np.N))
	if err != nil {
		c.record(t.id, "outcome", map[string]any{"event": "no_verifiers", "epoch": t.epoch, "error": err.Error()})
		t.noBidsWhy = "no verifiers: " + err.Error()
		c.proposeRelease(t, "no_bids")
		return
	}
	payload := map[string]any{"epoch": t.epoch, "proposal": dec.ProposalID, "worker_pk": dec.WorkerPK,
		"verifiers": verifiers, "considered": dec.Considered}
	key := decisionKey(c.cfg.HostPK, payload)
	cmd := Command{Op: "DECIDE", Need: t.id, Epoch: t.epoch, Proposal: dec.ProposalID, WorkerPK: dec.WorkerPK,
		Verifiers: verifiers, DecideID: key}
	t.myDecide[t.epoch] = &pending{key: key, body: payload, cmd: cmd}
	c.emit(&Propose{Cmd: cmd})
}

// noEligibleBid says why a closed bid window had no bid to choose: none
// came (and the last agent output refused on the thread, which may be why),
// or what ruled out each that did.
func noEligibleBid(t *thread, bids []route.Bid, revoked map[string]bool) string {
	if len(bids) == 0 {
		if t.lastAgentProblem != "" {
			return "no bid came; the last agent output refused: " + t.lastAgentProblem
		}
		return "no bid came"
	}
	denied, excluded, incapable, gone := 0, 0, 0, 0
	for _, b := range bids {
		switch {
		case revoked[b.ProposalID]:
			gone++
		case !b.HasCapability:
			incapable++
		case t.excluded[b.SenderPK]:
			excluded++
		case !b.Allowed:
			denied++
		}
	}
	why := fmt.Sprintf("%d bids, none eligible: %d denied by the capsule's bid rule, %d from workers an earlier epoch was released against, %d from senders without the capability",
		len(bids), denied, excluded, incapable)
	if gone > 0 {
		why += fmt.Sprintf(", %d revoked on this host", gone)
	}
	return why
}

// decisionKey names a decision this host proposes, before its fence (and
// so its envelope id) exists: the hash of the payload and the proposer.
func decisionKey(host string, payload map[string]any) string {
	b, err := envelope.CanonicalPayload(map[string]any{"host": host, "payload": payload})
	if err != nil {
		b = []byte(err.Error())
	}
	return envelope.HashRef(b)
}

// verifierPool is the local verifier agents able to do the task kind, and
// the configured remote verifiers, sorted; none whose key is revoked (its
// ATTESTs would be refused).
func (c *Core) verifierPool(kind string) []string {
	seen := map[string]bool{}
	var pool []string
	for i := range c.cfg.Agents {
		a := &c.cfg.Agents[i]
		if a.has(envelope.RoleVerifier) && a.can(kind) && !seen[a.PK] && !c.agentRevoked(a) {
			seen[a.PK] = true
			pool = append(pool, a.PK)
		}
	}
	for _, v := range c.cfg.Verifiers {
		if !seen[v] && !c.isRevoked(v) {
			seen[v] = true
			pool = append(pool, v)
		}
	}
	sort.Strings(pool)
	return pool
}

// proposeRelease proposes a RELEASE of the current epoch, once.
func (c *Core) proposeRelease(t *thread, reason string) {
	if t.myRelease[t.epoch] && t.pendingRelease == reason || t.final() {
		// Proposed once per reason: a RELEASE(no_bids) the shard refused
		// (another host decided the epoch) must not stop a later
		// RELEASE(expired) of the same epoch.
		return
	}
	t.myRelease[t.epoch] = true
	t.pendingRelease, t.pendingMax = reason, t.np.MaxEpochs
	c.emit(&Propose{Cmd: Command{Op: "RELEASE", Need: t.id, Epoch: t.epoch, Reason: reason, MaxEpochs: t.np.MaxEpochs}})
}

// startTally counts the attestations once the host's own digest is known.
func (c *Core) startTally(t *thread) {
	d := t.decisions[t.epoch]
	if d == nil || t.commit == nil || t.hostVerify == nil || t.tally != nil {
		return
	}
	tally, err := quorum.NewTally(d.Verifiers, int(t.np.K), t.commit.ID, t.hostVerify.Digest)
	if err != nil {
		c.record(t.id, "outcome", map[string]any{"event": "tally_failed", "error": err.Error()})
		return
	}
	t.tally = tally
	for _, a := range t.attests {
		c.tallyAdd(t, a)
	}
}

func (c *Core) tallyAdd(t *thread, a *envelope.Envelope) {
	var ap attestPayload
	payloadOf(a, &ap) // accepted: it decodes
	if _, err := t.tally.Add(quorum.Attestation{ID: a.ID, VerifierPK: a.SenderPK, Commit: ap.Commit,
		Verdict: ap.Verdict, Digest: a.PolicyEvalDigest}); err != nil {
		c.record(t.id, "outcome", map[string]any{"event": "attestation_not_counted", "attestation": a.ID, "error": err.Error()})
	}
	if t.invalidated[a.ID] {
		_ = t.tally.Invalidate(a.ID)
	}
}

// tryFinalize proposes the FINALIZE once k verifiers attested pass with the
// host's digest, or a RELEASE(invalidated) once k can no longer be reached.
func (c *Core) tryFinalize(t *thread) {
	if t.tally == nil || t.phase != PhaseCommitted || t.finalizing || !t.hostResult {
		return
	}
	if t.tally.Failed() {
		t.failed("k = " + itoa(t.np.K) + " passing attestations with the host's digest can no longer be reached")
		c.proposeRelease(t, "invalidated")
		return
	}
	if !t.tally.Reached() {
		return
	}
	t.finalizing = true
	payload := map[string]any{"epoch": t.epoch, "commit": t.commit.ID, "result": t.commitResult,
		"attestations": t.tally.Attestations()}
	key := decisionKey(c.cfg.HostPK, payload)
	cmd := Command{Op: "FINALIZE", Need: t.id, Epoch: t.epoch, Commit: t.commit.ID, FinalizeID: key}
	t.myFinalize = &pending{key: key, body: payload, cmd: cmd}
	c.emit(&Propose{Cmd: cmd})
}

// applied takes a command a shard accepted.
// KnowsApplied reports whether stepping an Applied of cmd would tell the
// core nothing new: the thread has that epoch's decision or release, or is
// final for a FINALIZE, or was retired. A shell drops such a command when
// a consensus replica hands it again from a snapshot (a restart restores
// every command of the last one), rather than record it once more.
func (c *Core) KnowsApplied(cmd Command) bool {
	if c.retired[cmd.Need] != nil {
		return true
	}
	t := c.threads[cmd.Need]
	if t == nil {
		return false
	}
	switch cmd.Op {
	case "DECIDE":
		d := t.decisions[cmd.Epoch]
		return d != nil && d.DecideID == cmd.DecideID
	case "RELEASE":
		_, ok := t.released[cmd.Epoch]
		return ok
	case "FINALIZE":
		return t.phase == PhaseFinal
	}
	return false
}

func (c *Core) applied(a *Applied) {
	cmd := a.Cmd
	if !envelope.IsRef(cmd.Need) {
		return
	}
	if c.retired[cmd.Need] != nil {
		return // ended: the shard answers nothing more about it but repeats
	}
	t := c.thread(cmd.Need)
	switch cmd.Op {
	case "DECIDE":
		if t.decisions[cmd.Epoch] != nil || cmd.Epoch < t.epoch {
			return
		}
		d := &decision{Epoch: cmd.Epoch, Proposal: cmd.Proposal, WorkerPK: cmd.WorkerPK, Verifiers: cmd.Verifiers,
			Fence: a.Fence, DecideID: cmd.DecideID}
		t.decisions[cmd.Epoch] = d
		c.decided.add(t.id, cmd.Epoch, a.Fence)
		if cmd.Epoch > t.epoch { // epochs this host missed
			t.epoch = cmd.Epoch
			t.resetEpoch()
		}
		if t.phase == PhaseOpen || t.phase == PhaseUnknown || t.phase == PhaseAdmitting {
			t.phase = PhaseDecided
			t.closing, t.graceEnd = true, 0
			t.leaseUntil = a.At + int64(t.np.LeaseMS)
			if t.np.LeaseMS == 0 {
				t.leaseUntil = a.At + DefaultLeaseMS
			}
			c.arm(t, t.leaseUntil)
		}
		if p := t.myDecide[cmd.Epoch]; p != nil && p.key == cmd.DecideID && p.body != nil {
			payload := p.body
			p.body = nil // published once: a thread kept for a while holds no copy
			payload["fence"] = a.Fence
			c.publishHost(t, envelope.VerbDecide, payload, nil)
		}
	case "RELEASE":
		if _, done := t.released[cmd.Epoch]; done || cmd.Epoch < t.epoch {
			return
		}
		t.released[cmd.Epoch] = cmd.Reason
		if d := t.decisions[cmd.Epoch]; d != nil && cmd.Reason != "no_bids" {
			t.excluded[d.WorkerPK] = true
		}
		mine := t.myRelease[cmd.Epoch]
		if a.Abandoned {
			t.phase = PhaseAbandoned
			c.ended(t)
			t.abandonedWhy = "released (" + cmd.Reason + ") with max_epochs used up"
			if cmd.Reason == "no_bids" && t.noBidsWhy != "" {
				t.abandonedWhy += "; the last bid window here: " + t.noBidsWhy
			}
			if h := t.releaseHistory(); h != "" {
				t.abandonedWhy += "; " + h
			}
			t.resetEpoch()
		} else {
			t.epoch = a.NextEpoch
			if t.need != nil && t.phase != PhaseRefused {
				c.open(t, a.At)
				c.deliver(t, t.need) // offer the NEED again for the new epoch
			} else {
				t.resetEpoch()
			}
		}
		if mine {
			c.publishHost(t, envelope.VerbRelease, map[string]any{"epoch": cmd.Epoch, "reason": cmd.Reason}, nil)
		}
	case "FINALIZE":
		if t.phase == PhaseFinal {
			return
		}
		t.phase, t.finalCommit, t.epoch = PhaseFinal, cmd.Commit, cmd.Epoch
		c.ended(t)
		if p := t.myFinalize; p != nil && p.key == cmd.FinalizeID && p.body != nil {
			payload := p.body
			p.body = nil
			c.publishHost(t, envelope.VerbFinalize, payload, nil)
		}
	}
}
