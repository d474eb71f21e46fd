package protocol

import (
	"fmt"
	"reflect"
)

// SameState says where two cores' states differ, the actions waiting and
// the quiet flag aside: a quiet core must change its state exactly as one
// whose actions are taken (SetQuiet). For tests of shells and of the core
// (the script harness and the chaos harness step a quiet core beside each
// core); it asks both cores to encode what they encode only when asked.
func SameState(a, b *Core) error {
	// What the cores hold encoded only once a shell asks (an agent's input,
	// its policy request, the plan's fold) is asked of both first: a shell
	// asked the core's, never the quiet one's.
	for _, c := range []*Core{a, b} {
		for _, r := range c.reqMap {
			if run, ok := r.action.(*RunAgent); ok {
				run.Input()
				run.Policy()
			}
		}
	}
	if x, y := a.plan.Digest(), b.plan.Digest(); x != y || string(a.plan.State()) != string(b.plan.State()) {
		return fmt.Errorf("plan differs (digest %s, quiet %s)", x, y)
	}
	fields := []struct {
		name string
		x, y any
	}{
		{"cfg", a.cfg, b.cfg}, {"agents", a.agents, b.agents}, {"threads", a.threads, b.threads},
		{"tokens", a.tokens, b.tokens}, {"now", a.now, b.now}, {"reqs", a.reqs, b.reqs},
		{"reqMap", a.reqMap, b.reqMap}, {"shared", a.shared, b.shared}, {"decided", a.decided, b.decided},
		{"lastRetired", a.lastRetired, b.lastRetired},
	}
	// plan is compared above, ready and quiet are left out; a field added
	// to Core must be compared here too.
	if n := reflect.TypeOf(*a).NumField(); n != len(fields)+3 {
		return fmt.Errorf("Core has %d fields, SameState compares %d besides plan and leaves out ready and quiet: list the new one", n, len(fields))
	}
	for _, f := range fields {
		if !reflect.DeepEqual(f.x, f.y) {
			return fmt.Errorf("field %s differs", f.name)
		}
	}
	return nil
}
