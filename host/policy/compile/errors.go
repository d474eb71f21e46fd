package compile

import (
	"errors"
	"fmt"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
)

var (
	// ErrInvalidPolicy: the policy folder does not make a capsule (a parse
	// error, a type error, a forbidden builtin, a missing package or
	// entrypoint). Every error Build and Test return for a bad policy
	// matches it with errors.Is.
	ErrInvalidPolicy = errors.New("invalid policy")
	// ErrForbiddenBuiltin: the policy calls a builtin outside the allowlist.
	// A *BuiltinError carries the name and the place.
	ErrForbiddenBuiltin = errors.New("forbidden builtin")
	// ErrBadCapsule: bytes given to Parse are not a well-formed capsule.
	ErrBadCapsule = errors.New("bad capsule")
)

// maxReported bounds the problems one PolicyError lists.
const maxReported = 20

// BuiltinError is a call to a Forbidden builtin, at File:Line.
type BuiltinError struct {
	File    string
	Line    int
	Builtin string
	Reason  string
}

func (e *BuiltinError) Error() string {
	return fmt.Sprintf("%s:%d: %s is not allowed: %s", e.File, e.Line, e.Builtin, e.Reason)
}

// Unwrap makes a BuiltinError match ErrForbiddenBuiltin.
func (e *BuiltinError) Unwrap() error { return ErrForbiddenBuiltin }

// PolicyError lists the problems found in a policy folder, each one naming
// its file and line ("policy.rego:7: ..."), one per line.
type PolicyError struct {
	Problems []error
}

func (e *PolicyError) Error() string {
	lines := make([]string, 0, len(e.Problems))
	for _, p := range e.Problems {
		lines = append(lines, p.Error())
	}
	return strings.Join(lines, "\n")
}

// Unwrap makes a PolicyError match ErrInvalidPolicy and each of its
// problems (so errors.As finds a *BuiltinError in it).
func (e *PolicyError) Unwrap() []error {
	return append([]error{ErrInvalidPolicy}, e.Problems...)
}

func joinPolicyErrors(errs []error) error {
	if len(errs) > maxReported {
		more := len(errs) - maxReported
		errs = append(errs[:maxReported:maxReported], fmt.Errorf("... and %d more", more))
	}
	return &PolicyError{Problems: errs}
}

// astErrors turns the OPA errors in err into problems that name file:line,
// translating OPA's "undefined function" for a builtin the capabilities
// leave out into a *BuiltinError that says why it is left out. An error
// that carries no OPA error is returned as is.
func astErrors(err error) []error {
	var list ast.Errors
	var one *ast.Error
	switch {
	case errors.As(err, &list):
	case errors.As(err, &one):
		list = ast.Errors{one}
	default:
		return []error{err}
	}
	out := make([]error, 0, len(list))
	for _, e := range list {
		out = append(out, translate(e))
	}
	return out
}

func translate(e *ast.Error) error {
	file, line := "", 0
	if e.Location != nil {
		file, line = e.Location.File, e.Location.Row
	}
	if name, ok := undefinedBuiltin(e); ok {
		return &BuiltinError{File: file, Line: line, Builtin: name, Reason: forbiddenReason(name)}
	}
	return e // its Error() is already "file:line: code: message"
}

// undefinedBuiltin reports the builtin an "undefined function" error names
// when it is one this OPA version has but the capsule's capabilities drop.
func undefinedBuiltin(e *ast.Error) (string, bool) {
	const prefix = "undefined function "
	if e.Code != ast.TypeErr || !strings.HasPrefix(e.Message, prefix) {
		return "", false
	}
	name := strings.TrimPrefix(e.Message, prefix)
	if _, ok := Forbidden[name]; ok {
		return name, true
	}
	if b, ok := ast.BuiltinMap[name]; ok && b.Nondeterministic {
		return name, true
	}
	return "", false
}

func forbiddenReason(name string) string {
	if r, ok := Forbidden[name]; ok {
		return r
	}
	return "OPA marks it nondeterministic"
}
