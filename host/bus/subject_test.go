package bus

import (
	"strings"
	"testing"

	"github.com/canswarm/swarmhost/abi/envelope"
)

func TestSubjects(t *testing.T) {
	n := need(t, 1)
	hex := n.ID[len("sha256:"):]
	p := reply(t, n, envelope.VerbPropose, 1)
	cp := sign(t, envelope.Draft{Verb: envelope.VerbCheckpoint})

	for _, tc := range []struct {
		e    *envelope.Envelope
		want string
	}{
		{n, "swarm.env." + hex + ".NEED"}, // a NEED's thread is its own id
		{p, "swarm.env." + hex + ".PROPOSE"},
		{cp, "swarm.env.none.CHECKPOINT"},
	} {
		got, err := SubjectOf(tc.e)
		if err != nil || got != tc.want {
			t.Errorf("SubjectOf(%s) = %q, %v; want %q", tc.e.Verb, got, err, tc.want)
		}
	}

	for _, tc := range []struct {
		f    Filter
		want string
	}{
		{Filter{}, "swarm.env.*.*"},
		{Filter{Thread: n.ID}, "swarm.env." + hex + ".*"},
		{Filter{Verb: envelope.VerbCommit}, "swarm.env.*.COMMIT"},
		{Filter{Thread: n.ID, Verb: envelope.VerbAttest}, "swarm.env." + hex + ".ATTEST"},
		{Filter{Thread: NoThread}, "swarm.env.none.*"},
	} {
		got, err := tc.f.Subject()
		if err != nil || got != tc.want {
			t.Errorf("%+v.Subject() = %q, %v; want %q", tc.f, got, err, tc.want)
		}
	}

	bad := []Filter{
		{Thread: hex},        // no sha256: prefix
		{Thread: "sha256:*"}, // wildcard
		{Thread: strings.ToUpper(n.ID)},
		{Verb: "NOPE"},
		{Verb: "NEED.>"},
		{Verb: "*"},
	}
	for _, f := range bad {
		if s, err := f.Subject(); err == nil {
			t.Errorf("%+v.Subject() = %q, want an error", f, s)
		}
	}
	if s, err := Subject(n.ID, "NEED.x"); err == nil {
		t.Errorf("Subject with an injected token = %q, want an error", s)
	}

	for _, s := range []string{"swarm.env.a", "swarm.env.a.b.c", "swarm.env.*.NEED", "swarm.env.a.>", "other.a.b", "swarm.env..NEED", "swarm.env.a b.NEED"} {
		if err := checkRawSubject(s); err == nil {
			t.Errorf("raw subject %q accepted", s)
		}
	}
}
