package protocol

// arm asks for a timer at `at` on the thread.
func (c *Core) arm(t *thread, at int64) {
	c.emit(&ArmTimer{Thread: t.id, At: at})
}

// timer acts on every deadline of the thread that has passed.
func (c *Core) timer(in *TimerFired) {
	t := c.threads[in.Thread]
	if t == nil || t.final() {
		return
	}
	now := in.At
	if t.deadline > 0 && now >= t.deadline {
		c.abandon(t)
		return
	}
	switch t.phase {
	case PhaseOpen:
		if now >= t.windowEnd {
			c.closeWindow(t)
		}
	case PhaseDecided, PhaseClaimed, PhaseCommitted:
		// Once the FINALIZE is proposed, the quorum is reached: the end of
		// the verification window must not race it through consensus.
		if t.leaseUntil > 0 && now >= t.leaseUntil && !t.finalizing {
			c.proposeRelease(t, "expired")
		}
	}
}

// abandon ends a NEED whose deadline passed: a RELEASE whose max_epochs is
// the current epoch, which the shard turns into ABANDONED.
func (c *Core) abandon(t *thread) {
	if t.myRelease[t.epoch] {
		return
	}
	t.myRelease[t.epoch] = true
	t.pendingRelease, t.pendingMax = "expired", t.epoch
	c.record(t.id, "outcome", map[string]any{"event": "deadline_passed", "epoch": t.epoch})
	c.emit(&Propose{Cmd: Command{Op: "RELEASE", Need: t.id, Epoch: t.epoch, Reason: "expired", MaxEpochs: t.epoch}})
}

// phaseName is the thread's phase with its epoch, for messages.
func (t *thread) phaseName() string {
	switch t.phase {
	case PhaseOpen, PhaseDecided, PhaseClaimed, PhaseCommitted:
		return string(t.phase) + "(" + itoa(t.epoch) + ")"
	}
	return string(t.phase)
}

func itoa(n uint64) string {
	if n == 0 {
		return "0"
	}
	var b [20]byte
	i := len(b)
	for n > 0 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	return string(b[i:])
}
