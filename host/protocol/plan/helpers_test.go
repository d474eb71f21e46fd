package plan_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/canswarm/swarmhost/abi/envelope"
	"github.com/canswarm/swarmhost/host/protocol/plan"
)

// ref returns a well-formed sha256 ref derived from s.
func ref(s string) string { return envelope.HashRef([]byte(s)) }

// Three senders whose public keys sort A < B < C.
var (
	pkA = strings.Repeat("a", 64)
	pkB = strings.Repeat("b", 64)
	pkC = strings.Repeat("c", 64)
)

func addTask(task, spec string) plan.Op {
	return plan.Op{Kind: plan.OpAddTask, Task: task, Spec: json.RawMessage(spec)}
}
func requires(task, on string) plan.Op { return plan.Op{Kind: plan.OpRequires, Task: task, On: on} }
func produces(task, r string) plan.Op  { return plan.Op{Kind: plan.OpProduces, Task: task, Ref: r} }
func state(task string, s plan.State) plan.Op {
	return plan.Op{Kind: plan.OpState, Task: task, State: s}
}
func link(task, need string) plan.Op { return plan.Op{Kind: plan.OpLink, Task: task, Need: need} }
func annotate(task, key, value string) plan.Op {
	return plan.Op{Kind: plan.OpAnnotate, Task: task, Key: key, Value: json.RawMessage(value)}
}

// tb is what both *testing.T and *rapid.T offer.
type tb interface {
	Helper()
	Fatalf(format string, args ...any)
}

// mustAdd adds one envelope's ops and fails the test on an error.
func mustAdd(t testing.TB, p *plan.Plan, id string, lamport uint64, sender string, ops ...plan.Op) int {
	t.Helper()
	n, err := p.Add(id, lamport, sender, ops)
	if err != nil {
		t.Fatalf("Add(%s): %v", id, err)
	}
	return n
}

// checkFieldError fails unless err is a *FieldError matching ErrMalformed
// whose message is want.
func checkFieldError(t *testing.T, err error, want string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want %q", want)
	}
	var fe *plan.FieldError
	if !errors.As(err, &fe) || !errors.Is(err, plan.ErrMalformed) {
		t.Fatalf("error %v (%T) is not a *FieldError matching ErrMalformed", err, err)
	}
	if err.Error() != want {
		t.Fatalf("error\n got %q\nwant %q", err.Error(), want)
	}
}

// canonical fails unless b is RFC 8785: the independent JCS implementation
// (gowebpki/jcs through envelope.CanonicalPayload) leaves it unchanged.
func canonical(t tb, b []byte) {
	t.Helper()
	c, err := envelope.CanonicalPayload(json.RawMessage(b))
	if err != nil {
		t.Fatalf("not canonicalizable: %v\n%s", err, b)
	}
	if string(c) != string(b) {
		t.Fatalf("not RFC 8785:\n got %s\nwant %s", b, c)
	}
}
