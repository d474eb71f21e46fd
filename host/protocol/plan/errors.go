package plan

import "errors"

var (
	// ErrMalformed is matched (errors.Is) by every error about input that is
	// not a well-formed op, entry or query. Such errors are *FieldError.
	ErrMalformed = errors.New("malformed plan input")
	// ErrConflict is matched by an Add or Import that names an op identity
	// (envelope id, index) already held with different content, or an
	// envelope already held with a different lamport, sender or op count.
	// Envelope ids are hashes of what they carry, so a conflict means a
	// caller error or a forged id; nothing is added.
	ErrConflict = errors.New("conflicting plan op")
	// ErrNotFound is matched by a query for a task the plan does not hold.
	ErrNotFound = errors.New("no such task")
)

// errInvalidJSON is the cause when a value is not one JSON text.
var errInvalidJSON = errors.New("not valid JSON")

// FieldError is a malformed input, located: Field is a path such as
// "ops[2].state" and Detail says what is wrong in words. Err, when set, is
// the underlying cause. Its message is "Field: Detail[: Err]".
type FieldError struct {
	Field  string
	Detail string
	Err    error
}

func (e *FieldError) Error() string {
	s := e.Field + ": " + e.Detail
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns ErrMalformed and the cause, if any.
func (e *FieldError) Unwrap() []error {
	if e.Err == nil {
		return []error{ErrMalformed}
	}
	return []error{ErrMalformed, e.Err}
}

func fieldErr(field, detail string) *FieldError {
	return &FieldError{Field: field, Detail: detail}
}

// under re-roots a FieldError at prefix (ops[3] + .op.state); other errors
// are returned as they are.
func under(prefix string, err error) error {
	var fe *FieldError
	if errors.As(err, &fe) {
		f := prefix
		if fe.Field != "" {
			if fe.Field[0] == '[' {
				f += fe.Field
			} else {
				f += "." + fe.Field
			}
		}
		return &FieldError{Field: f, Detail: fe.Detail, Err: fe.Err}
	}
	return err
}
