package protocol

import (
	"fmt"
	"reflect"
)

// SameState says where two cores' states differ, the actions waiting and
// the quiet flag aside: a quiet core must change its state exactly as one
// whose actions are taken (SetQuiet). For tests of shells and of the core
// (the script harness and the chaos harness step a quiet core beside each
// core). It changes neither core: what a core encodes only when a shell
// asks (an agent's input) is compared by what it is made from.
func SameState(a, b *Core) error {
	if x, y := a.plan.Digest(), b.plan.Digest(); x != y || string(a.plan.State()) != string(b.plan.State()) {
		return fmt.Errorf("plan differs (digest %s, quiet %s)", x, y)
	}
	if !reflect.DeepEqual(a.plan.Have(), b.plan.Have()) || !reflect.DeepEqual(a.plan.Entries(), b.plan.Entries()) {
		return fmt.Errorf("plan differs in the ops it holds")
	}
	// sameRequest compares these structs field by field: one added to
	// either must be compared there too.
	if n, m := reflect.TypeOf(request{}).NumField(), reflect.TypeOf(agentJob{}).NumField(); n != 7 || m != 9 {
		return fmt.Errorf("request has %d fields and agentJob %d, sameRequest compares 7 and 9 (5 and 4 caches): list the new one", n, m)
	}
	if len(a.reqMap) != len(b.reqMap) {
		return fmt.Errorf("reqMap differs: %d requests, quiet %d", len(a.reqMap), len(b.reqMap))
	}
	for id, x := range a.reqMap {
		y := b.reqMap[id]
		if y == nil || !sameRequest(x, y) {
			return fmt.Errorf("reqMap differs at %s", id)
		}
	}
	fields := []struct {
		name string
		x, y any
	}{
		{"cfg", a.cfg, b.cfg}, {"agents", a.agents, b.agents}, {"threads", a.threads, b.threads},
		{"retired", a.retired, b.retired}, {"retiredClock", a.retiredClock, b.retiredClock},
		{"tokens", a.tokens, b.tokens}, {"now", a.now, b.now}, {"reqs", a.reqs, b.reqs},
		{"shared", a.shared, b.shared}, {"decided", a.decided, b.decided}, {"lastRetired", a.lastRetired, b.lastRetired},
		{"unsent", unsentPreparable(a.unsent), unsentPreparable(b.unsent)},
		{"offered", a.offered, b.offered}, {"peerDiffers", a.peerDiffers, b.peerDiffers},
		{"sinceCheckpoint", a.sinceCheckpoint, b.sinceCheckpoint},
	}
	// plan and reqMap are compared above, ready and quiet are left out; a
	// field added to Core must be compared here too.
	if n := reflect.TypeOf(*a).NumField(); n != len(fields)+4 {
		return fmt.Errorf("Core has %d fields, SameState compares %d besides plan and reqMap and leaves out ready and quiet: list the new one",
			n, len(fields))
	}
	for _, f := range fields {
		if !reflect.DeepEqual(f.x, f.y) {
			return fmt.Errorf("field %s differs", f.name)
		}
	}
	return nil
}

// sameRequest compares two requests; an agent run by what its input and
// policy request are made from, not by whether a shell asked for them yet.
func sameRequest(x, y *request) bool {
	if x.thread != y.thread || x.purpose != y.purpose || x.epoch != y.epoch || x.agent != y.agent ||
		!reflect.DeepEqual(x.env, y.env) || !reflect.DeepEqual(x.chal, y.chal) {
		return false
	}
	rx, okx := x.action.(*RunAgent)
	ry, oky := y.action.(*RunAgent)
	if !okx || !oky {
		return okx == oky && reflect.DeepEqual(x.action, y.action)
	}
	if rx.ReqID != ry.ReqID || rx.Thread != ry.Thread || rx.Agent != ry.Agent || rx.Gas != ry.Gas || (rx.job == nil) != (ry.job == nil) {
		return false
	}
	if rx.job == nil {
		return true
	}
	jx, jy := rx.job, ry.job
	return reflect.DeepEqual(jx.wire, jy.wire) && reflect.DeepEqual(jx.view, jy.view) && reflect.DeepEqual(jx.decide, jy.decide) &&
		reflect.DeepEqual(jx.pol, jy.pol) && jx.hasPol == jy.hasPol
}
