package protocol_test

import (
	"strings"
	"testing"
)

// An input that a replay or a rebuild does not step (a duplicate, an
// envelope answered retry that is already held, a rejected envelope, which
// a node rebuilding from its trail skips) must leave the core's clock where
// it was: they would otherwise run behind the live core and decide
// otherwise. Here the bid evaluations finished within the bid window but
// are stepped after such an envelope arrived past the window's end (a
// node's outcomes wait in its input queue): the window must not close on
// that envelope's time, only when its timer fires.
func TestUnrecordedInputsDoNotMoveTheClock(t *testing.T) {
	for _, late := range []struct{ name, command, verdict string }{
		{"duplicate", "dup", "duplicate"},
		{"rejected", "raw {}", "rejected"},
	} {
		t.Run(late.name, func(t *testing.T) {
			h := newHarness(t)
			for _, line := range []string{"setup pool=v1", "need id=n1 window=100", "deliver", "propose sender=w1"} {
				h.run(line)
			}
			start := h.now
			h.now = start + 500 // past the window's end
			if out := h.run(late.command); !strings.Contains(out, late.verdict) {
				t.Fatalf("%s: %s", late.command, out)
			}
			h.now = start + 50 // the evaluations finished within the window
			if out := h.run("deliver"); strings.Contains(out, "propose DECIDE") {
				t.Fatalf("the window closed on the time of an envelope replay does not step:\n%s", out)
			}
			if out := h.run("tick +100"); !strings.Contains(out, "propose DECIDE") {
				t.Fatalf("the window did not close when its timer fired:\n%s", out)
			}
		})
	}
}
