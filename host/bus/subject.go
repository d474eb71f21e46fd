package bus

import (
	"fmt"
	"strings"

	"github.com/canswarm/swarmhost/abi/envelope"
)

// Names on the server. The stream holds every envelope; its subjects are
// swarm.env.<thread>.<VERB>, where <thread> is the 64 hex digits of the
// envelope's thread (a NEED's own id) so that a consumer can follow one NEED,
// one verb, or both, with a server-side filter and no decoding.
const (
	StreamName    = "SWARM"
	SubjectPrefix = "swarm.env."
	// NoThread is the thread token of an envelope that belongs to no NEED
	// (thread_id "" on a verb other than NEED). As a Filter.Thread it selects
	// exactly those envelopes.
	NoThread = "none"
	// streamSubjects is what the stream captures: exactly two tokens after
	// the prefix, so a malformed subject has no stream and fails to publish.
	streamSubjects = SubjectPrefix + "*.*"
)

// Subject returns the subject of an envelope with the given thread and
// verb. thread is a ref ("sha256:" + 64 hex), or "" / NoThread for an
// envelope outside any NEED; verb must be a verb of the protocol, so that
// nothing a sender chose can inject wildcards or extra tokens.
func Subject(thread string, verb envelope.Verb) (string, error) {
	tt, err := threadToken(thread)
	if err != nil {
		return "", err
	}
	if !verb.Known() {
		return "", fmt.Errorf("bus: subject: verb %q is not a protocol verb", verb)
	}
	return SubjectPrefix + tt + "." + string(verb), nil
}

// SubjectOf returns the subject e is published on: its thread (e.Thread(),
// so a NEED's own id) and its verb.
func SubjectOf(e *envelope.Envelope) (string, error) {
	return Subject(e.Thread(), e.Verb)
}

func threadToken(thread string) (string, error) {
	switch {
	case thread == "" || thread == NoThread:
		return NoThread, nil
	case envelope.IsRef(thread):
		return thread[len(envelope.RefPrefix):], nil
	default:
		return "", fmt.Errorf("bus: subject: thread %q is not a ref", shorten(thread))
	}
}

// Filter selects envelopes by thread and verb. The zero value of a field
// matches anything: Filter{} is every envelope, Filter{Verb: "NEED"} every
// NEED, Filter{Thread: need.ID} the whole life of one NEED.
type Filter struct {
	// Thread is "" (any thread), a NEED's id, or NoThread (envelopes outside
	// any NEED).
	Thread string
	// Verb is "" (any verb) or a protocol verb.
	Verb envelope.Verb
}

// Subject returns the (possibly wildcard) subject the filter matches.
func (f Filter) Subject() (string, error) {
	tt := "*"
	if f.Thread != "" {
		var err error
		if tt, err = threadToken(f.Thread); err != nil {
			return "", err
		}
	}
	vt := "*"
	if f.Verb != "" {
		if !f.Verb.Known() {
			return "", fmt.Errorf("bus: filter: verb %q is not a protocol verb", f.Verb)
		}
		vt = string(f.Verb)
	}
	return SubjectPrefix + tt + "." + vt, nil
}

// checkRawSubject accepts only concrete subjects the stream captures.
func checkRawSubject(subject string) error {
	rest, ok := strings.CutPrefix(subject, SubjectPrefix)
	tokens := strings.Split(rest, ".")
	if !ok || len(tokens) != 2 {
		return fmt.Errorf("bus: subject %q is not %s<thread>.<verb>", shorten(subject), SubjectPrefix)
	}
	for _, tok := range tokens {
		if tok == "" || strings.ContainsAny(tok, "*> \t\r\n") {
			return fmt.Errorf("bus: subject %q has an empty or wildcard token", shorten(subject))
		}
	}
	return nil
}

func shorten(s string) string {
	const max = 100
	if len(s) > max {
		return s[:max] + "..."
	}
	return s
}
