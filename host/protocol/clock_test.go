package protocol_test

import (
	"strings"
	"testing"
)

// An input that leaves no line in the trail (a duplicate; an envelope
// answered retry that is already held) must leave the core's clock where
// it was: replay, which never sees the input, would otherwise run behind
// the live core and decide differently. Here the bid evaluations finished
// within the bid window but are stepped after a duplicate that arrived
// after the window's end (a node's outcomes wait in its input queue): the
// window must not close on the duplicate's time, only when its timer
// fires, as it would in a replay of the trail.
func TestUnrecordedInputsDoNotMoveTheClock(t *testing.T) {
	h := newHarness(t)
	for _, line := range []string{"setup pool=v1", "need id=n1 window=100", "deliver", "propose sender=w1"} {
		h.run(line)
	}
	start := h.now
	h.now = start + 500 // past the window's end
	if out := h.run("dup"); !strings.Contains(out, "duplicate") {
		t.Fatalf("dup: %s", out)
	}
	h.now = start + 50 // the evaluations finished within the window
	if out := h.run("deliver"); strings.Contains(out, "propose DECIDE") {
		t.Fatalf("the window closed on the time of a duplicate that leaves no line:\n%s", out)
	}
	if out := h.run("tick +100"); !strings.Contains(out, "propose DECIDE") {
		t.Fatalf("the window did not close when its timer fired:\n%s", out)
	}
}
