package protocoltest

import (
	"fmt"
	"slices"
	"strings"

	"github.com/canswarm/swarmhost/host/protocol"
)

// Result is what one schedule came to.
type Result struct {
	Options    Options  // as resolved from the seed
	Faults     []string // the fault kinds the schedule injected
	Violations []string // broken properties; none when the schedule passed
	Trace      []string // the schedule, when Options.Trace
	Steps      int      // scheduler events
	Envelopes  int      // bus messages
	VirtualMS  int64    // virtual time the schedule spanned
	// How the NEEDs ended, in the shard: finalized, abandoned, refused by
	// admit (never decided).
	Final, Abandoned, Refused int
	// Retired: threads a checkpoint retired, summed over the hosts; Late:
	// envelopes that met a retired thread (rejected wrong_state).
	Retired, Late int
	// Collected: NEEDs the shards' GC dropped (the hosts ask for those
	// their checkpoints retired).
	Collected int
}

// Failed reports whether a property broke.
func (r *Result) Failed() bool { return len(r.Violations) > 0 }

// Run plays one schedule: a chaos phase of Options.Steps events drawn from
// the seed, then faults stop (partitions heal, crashed hosts restart) and
// the world runs until it is quiet, then a RECONCILE round; the properties
// P1-P7 are checked on the final state. Same options, same outcome.
func Run(opt Options) (res *Result) {
	w := newWorld(opt)
	res = &Result{Options: w.opt}
	for _, f := range AllFaults {
		if w.faults[f] {
			res.Faults = append(res.Faults, f)
		}
	}
	defer func() {
		if r := recover(); r != nil {
			w.violate("panic: %v", r)
		}
		res.Violations, res.Trace, res.Steps, res.Envelopes = w.issues, w.trace, w.steps, len(w.bus)
		res.VirtualMS = w.now - startTime
		res.Final, res.Abandoned, res.Refused = w.outcomes()
		res.Retired, res.Late = w.retirements()
		for _, r := range w.history {
			if r.res.Accepted && r.cmd.Op == "GC" {
				res.Collected += int(r.res.Dropped)
			}
		}
	}()
	w.tracef("schedule seed=%d hosts=%d needs=%d shards=%d steps=%d faults=%v", w.opt.Seed, w.opt.Hosts,
		w.opt.Needs, w.opt.Shards, w.opt.Steps, res.Faults)
	for _, n := range w.needs {
		w.tracef("need %s %s k=%d n=%d window=%d lease=%d max_epochs=%d deadline=%d deny=%v", n.name,
			w.name(n.env.ID), n.k, n.n, n.window, n.lease, n.maxEpochs, n.deadline, n.deny)
	}
	w.play()
	w.check()
	return res
}

// play runs the schedule: chaos, faults stop, quiet, a RECONCILE round,
// quiet again.
func (w *World) play() {
	w.chaos = true
	w.submit(w.needs[0])
	for w.steps < w.opt.Steps {
		w.steps++
		w.chaosStep()
	}
	w.stopFaults()
	w.quiesce(true)
	for _, h := range w.hosts {
		h.reconcile(true)
	}
	w.quiesce(false)
}

func (w *World) submit(n *needSpec) {
	n.sent = true
	w.tracef("client submits %s", w.describe(n.env))
	w.publish(n.env, "client")
}

// pick returns a random element of list, or -1 when it is empty.
func (w *World) pick(list []int) int {
	if len(list) == 0 {
		return -1
	}
	return list[w.rng.IntN(len(list))]
}

// hostsWith lists the up hosts for which f is not empty.
func (w *World) hostsWith(f func(h *Host) bool) []int {
	var idx []int
	for i, h := range w.hosts {
		if h.up && f(h) {
			idx = append(idx, i)
		}
	}
	return idx
}

// work does one unit of work that is ready now (a delivery, a task, a
// commit, an apply, a due timer), chosen at random; false when none is.
// In order mode deliveries are taken oldest first.
func (w *World) work(inOrder bool) bool {
	deliver := w.hostsWith(func(h *Host) bool { return !h.cut && len(h.eligible()) > 0 })
	tasks := w.hostsWith(func(h *Host) bool { return len(h.tasks) > 0 })
	apply := w.hostsWith(func(h *Host) bool { return !h.cut && len(h.pendingApply()) > 0 })
	timers := w.hostsWith(func(h *Host) bool { return len(h.due()) > 0 })
	resend := w.hostsWith(func(h *Host) bool { return !h.cut && len(h.outbox) > 0 })
	var commits []int
	for i, p := range w.props {
		if !w.hosts[p.host].cut {
			commits = append(commits, i)
		}
	}
	weights := []int{6 * len(deliver), 3 * len(tasks), 2 * min(len(commits), 3), 3 * len(apply), 2 * len(timers),
		2 * len(resend)}
	total := 0
	for _, x := range weights {
		total += x
	}
	if total == 0 {
		return false
	}
	r := w.rng.IntN(total)
	kind := 0
	for r >= weights[kind] {
		r -= weights[kind]
		kind++
	}
	switch kind {
	case 0:
		h := w.hosts[w.pick(deliver)]
		el := h.eligible()
		i := el[0]
		if !inOrder {
			i = w.pick(el)
		}
		h.deliver(i)
	case 1:
		h := w.hosts[w.pick(tasks)]
		h.completeTask(w.rng.IntN(len(h.tasks)))
	case 2:
		w.commit(w.pick(commits))
	case 3:
		h := w.hosts[w.pick(apply)]
		h.apply(w.pick(h.pendingApply()))
	case 4:
		h := w.hosts[w.pick(timers)]
		h.fire(w.pick(h.due()))
	case 5:
		w.hosts[w.pick(resend)].resend()
	}
	return true
}

// chaosStep takes one scheduler event while faults are on.
func (w *World) chaosStep() {
	r := w.rng.IntN(100)
	switch {
	case r < 4:
		for _, n := range w.needs {
			if !n.sent {
				w.submit(n)
				return
			}
		}
	case r < 12:
		// Time passing while work waits: slow hosts, a slow network.
		if w.faults[FaultDelay] {
			w.now += 1 + int64(w.rng.IntN(60))
			return
		}
	case r < 13:
		if i := w.pick(w.hostsWith(func(h *Host) bool { return !h.cut })); i >= 0 {
			w.hosts[i].reconcile(false)
		}
		return
	case r < 14:
		if i := w.pick(w.hostsWith(func(h *Host) bool { return true })); i >= 0 {
			w.hosts[i].checkpoint()
		}
		return
	case r < 30:
		if w.fault() {
			return
		}
	}
	if !w.work(!w.faults[FaultReorder]) && !w.idle() {
		w.now += 1 + int64(w.rng.IntN(60))
	}
}

// idle moves the clock to the next timer or redelivery, when there is one.
func (w *World) idle() bool {
	next := int64(-1)
	for _, h := range w.hosts {
		if !h.up {
			continue
		}
		for _, t := range h.timers {
			if next < 0 || t.at < next {
				next = t.at
			}
		}
		for _, d := range h.inbox {
			if next < 0 || d.notBefore < next {
				next = d.notBefore
			}
		}
	}
	if next < 0 {
		return false
	}
	w.now = max(w.now, next)
	return true
}

// fault injects one fault of an enabled kind; false when none applied.
func (w *World) fault() bool {
	kinds := []string{FaultDrop, FaultDelay, FaultDup, FaultPartition, FaultCrash, FaultTear, FaultResubmit, FaultRevoke}
	f := kinds[w.rng.IntN(len(kinds))]
	if !w.faults[f] {
		return false
	}
	up := func(h *Host) bool { return true }
	switch f {
	case FaultDrop, FaultDelay, FaultDup:
		i := w.pick(w.hostsWith(func(h *Host) bool { return !h.cut && len(h.eligible()) > 0 }))
		if i < 0 {
			return false
		}
		h := w.hosts[i]
		j := w.pick(h.eligible())
		d := h.inbox[j]
		switch f {
		case FaultDrop:
			d.notBefore = w.now + 1 + int64(w.rng.IntN(150))
			w.tracef("%s delivery LOST (redelivered later) %s", h.name, w.describe(d.msg.env))
		case FaultDelay:
			d.notBefore = w.now + 150 + int64(w.rng.IntN(600))
			w.tracef("%s delivery DELAYED %s", h.name, w.describe(d.msg.env))
		case FaultDup:
			w.tracef("%s delivery DUPLICATED %s", h.name, w.describe(d.msg.env))
			h.inbox = append(h.inbox, &delivery{msg: d.msg, notBefore: w.now + int64(w.rng.IntN(200))})
			h.deliver(j)
		}
	case FaultPartition:
		cut := 0
		for _, h := range w.hosts {
			if h.cut {
				cut++
			}
		}
		i := w.pick(w.hostsWith(func(h *Host) bool { return !h.cut }))
		if i < 0 || cut+1 >= len(w.hosts) {
			return w.heal()
		}
		w.hosts[i].cut = true
		w.tracef("%s PARTITIONED", w.hosts[i].name)
	case FaultCrash, FaultTear:
		var down []int
		for i, h := range w.hosts {
			if !h.up {
				down = append(down, i)
			}
		}
		if len(down) > 0 && w.rng.IntN(2) == 0 {
			w.hosts[w.pick(down)].restart()
			return true
		}
		i := w.pick(w.hostsWith(up))
		if i < 0 {
			return false
		}
		if f == FaultCrash {
			w.hosts[i].crash("crash")
		} else {
			w.hosts[i].tear = true
		}
	case FaultRevoke:
		// One host (up) puts the lying verifier on its revocation list,
		// as an operator would: a recorded reload, kept across restarts.
		liar := w.liar()
		i := w.pick(w.hostsWith(func(h *Host) bool { return h.up && liar != "" && !slices.Contains(h.cfg.Revoked, liar) }))
		if i < 0 {
			return false
		}
		h := w.hosts[i]
		h.cfg.Revoked = append(h.cfg.Revoked, liar)
		w.tracef("%s REVOKES the lying verifier %s", h.name, w.names[liar])
		h.configure(true)
	case FaultResubmit:
		var sent []*needSpec
		for _, n := range w.needs {
			if n.sent {
				sent = append(sent, n)
			}
		}
		n := sent[w.rng.IntN(len(sent))]
		w.tracef("client RESUBMITS %s", n.name)
		w.publish(n.env, "client")
	}
	if w.rng.IntN(3) == 0 {
		w.heal()
	}
	return true
}

func (w *World) heal() bool {
	for _, h := range w.hosts {
		if h.cut {
			h.cut = false
			w.tracef("%s HEALED", h.name)
			return true
		}
	}
	return false
}

// stopFaults ends the chaos: partitions heal, crashed hosts restart, every
// NEED is submitted.
func (w *World) stopFaults() {
	w.chaos = false
	for _, h := range w.hosts {
		h.tear = false
		if h.cut {
			h.cut = false
			w.tracef("%s HEALED", h.name)
		}
		if !h.up {
			h.restart()
		}
	}
	for _, n := range w.needs {
		if !n.sent {
			w.submit(n)
		}
	}
	w.stopAt = w.now
	w.tracef("FAULTS STOP")
}

// quiesce runs until nothing is left to do: ready work first, then the
// clock moves to the next timer or redelivery. With liveness, it notes when
// every admitted NEED was finished everywhere (P6).
func (w *World) quiesce(liveness bool) {
	for n := 0; n < 200_000; n++ {
		if w.work(true) {
			w.steps++
			continue
		}
		if liveness && w.doneAt == 0 && w.finished() {
			w.doneAt = w.now
		}
		if !w.idle() {
			return
		}
	}
	w.violate("the world did not quiesce in 200000 events")
}

// finished reports whether every admitted NEED is final or abandoned in the
// shard and in every host's core.
func (w *World) finished() bool {
	for _, n := range w.needs {
		if n.deny {
			continue
		}
		for _, h := range w.hosts {
			info, ok := h.core.Thread(n.env.ID)
			if !ok || (info.Phase != protocol.PhaseFinal && info.Phase != protocol.PhaseAbandoned) {
				return false
			}
		}
	}
	return true
}

// outcomes counts how the NEEDs ended in the shard.
func (w *World) outcomes() (final, abandoned, refused int) {
	for _, n := range w.needs {
		switch {
		case n.deny:
			refused++
		case slices.ContainsFunc(w.history, func(r applyRecord) bool {
			return r.res.Accepted && r.cmd.Need == n.env.ID && r.cmd.Op == "FINALIZE"
		}):
			final++
		case slices.ContainsFunc(w.history, func(r applyRecord) bool {
			return r.res.Accepted && r.cmd.Need == n.env.ID && r.res.Abandoned
		}):
			abandoned++
		}
	}
	return final, abandoned, refused
}

// retirements counts the threads retired on every host and the envelopes
// that met one.
func (w *World) retirements() (retired, late int) {
	for _, h := range w.hosts {
		for _, id := range h.core.Threads() {
			if h.core.Retired(id) {
				retired++
			}
		}
		for _, en := range h.trail {
			if en.kind == "envelope" && !en.v.Accepted && strings.Contains(en.v.Detail, "a checkpoint retired it") {
				late++
			}
		}
	}
	return retired, late
}

// Summary is one line about a result.
func (r *Result) Summary() string {
	return fmt.Sprintf("seed=%d hosts=%d needs=%d shards=%d steps=%d faults=%s: %d events, %d envelopes, %d ms virtual, "+
		"%d final, %d abandoned, %d refused, %d retired, %d late, %d collected", r.Options.Seed, r.Options.Hosts, r.Options.Needs, r.Options.Shards,
		r.Options.Steps, strings.Join(r.Faults, ","), r.Steps, r.Envelopes, r.VirtualMS, r.Final, r.Abandoned, r.Refused,
		r.Retired, r.Late, r.Collected)
}
