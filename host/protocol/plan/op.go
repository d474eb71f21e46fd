package plan

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"unicode/utf8"

	"github.com/canswarm/swarmhost/abi/envelope"
)

// Limits of PROTOCOL.md section 8 as this package enforces them.
const (
	// MaxOps is the most ops one UPDATE_PLAN carries.
	MaxOps = 256
	// MaxIDLen is the longest task id or annotation key, in bytes.
	MaxIDLen = 256
)

// Kind names an op.
type Kind string

// The op kinds of PROTOCOL.md section 8.
const (
	OpAddTask  Kind = "ADD_TASK" // {task, spec}
	OpRequires Kind = "REQUIRES" // {task, on}: task requires on
	OpProduces Kind = "PRODUCES" // {task, ref}
	OpState    Kind = "STATE"    // {task, state}
	OpLink     Kind = "LINK"     // {task, need}
	OpAnnotate Kind = "ANNOTATE" // {task, key, value}
)

// Kinds lists every op kind.
var Kinds = []Kind{OpAddTask, OpRequires, OpProduces, OpState, OpLink, OpAnnotate}

// fields lists each kind's fields besides "op", in RFC 8785 order.
var fields = map[Kind][]string{
	OpAddTask:  {"spec", "task"},
	OpRequires: {"on", "task"},
	OpProduces: {"ref", "task"},
	OpState:    {"state", "task"},
	OpLink:     {"need", "task"},
	OpAnnotate: {"key", "task", "value"},
}

// Known reports whether k is an op kind.
func (k Kind) Known() bool { _, ok := fields[k]; return ok }

// State is a task's progress. States are ordered and a task's state only
// moves forward: todo < claimed < done < verified < final.
type State uint8

// The task states, in order. The zero State is todo.
const (
	StateTodo State = iota
	StateClaimed
	StateDone
	StateVerified
	StateFinal
)

var stateNames = [...]string{"todo", "claimed", "done", "verified", "final"}

// States lists every state, in order.
var States = []State{StateTodo, StateClaimed, StateDone, StateVerified, StateFinal}

// Valid reports whether s is one of the five states.
func (s State) Valid() bool { return int(s) < len(stateNames) }

// String is the state's wire name ("todo", ...).
func (s State) String() string {
	if s.Valid() {
		return stateNames[s]
	}
	return "State(" + strconv.Itoa(int(s)) + ")"
}

// ParseState returns the state named name.
func ParseState(name string) (State, bool) {
	for i, n := range stateNames {
		if n == name {
			return State(i), true
		}
	}
	return 0, false
}

// Op is one plan op. Kind says which fields it uses; the others are zero.
// Spec and Value are JSON values of any type (nil means null); the ops this
// package returns hold them in RFC 8785 form.
type Op struct {
	Kind  Kind
	Task  string          // every kind: the task the op is about
	Spec  json.RawMessage // ADD_TASK
	On    string          // REQUIRES: the task that Task requires
	Ref   string          // PRODUCES: a sha256 ref
	State State           // STATE
	Need  string          // LINK: a sha256 ref (a NEED's envelope id)
	Key   string          // ANNOTATE
	Value json.RawMessage // ANNOTATE
}

// Equal reports whether two ops are the same op. Spec and Value compare as
// bytes, so compare normalized ops (from ParseOps, or Normalize).
func (o Op) Equal(p Op) bool {
	return o.Kind == p.Kind && o.Task == p.Task && o.On == p.On && o.Ref == p.Ref &&
		o.State == p.State && o.Need == p.Need && o.Key == p.Key &&
		bytes.Equal(o.Spec, p.Spec) && bytes.Equal(o.Value, p.Value)
}

// Normalize checks o and returns it with Spec and Value in RFC 8785 form
// (null where nil) and its own copies of them. Errors are *FieldError,
// the field named relative to the op ("task", "state", ...).
func (o Op) Normalize() (Op, error) {
	if !o.Kind.Known() {
		return Op{}, fieldErr("op", quote(string(o.Kind))+" is not a plan op")
	}
	if err := checkName("task", o.Task); err != nil {
		return Op{}, err
	}
	n := Op{Kind: o.Kind, Task: o.Task}
	var err error
	switch o.Kind {
	case OpAddTask:
		n.Spec, err = normValue("spec", o.Spec)
	case OpRequires:
		n.On, err = o.On, checkName("on", o.On)
	case OpProduces:
		n.Ref, err = o.Ref, checkRef("ref", o.Ref)
	case OpState:
		n.State = o.State
		if !o.State.Valid() {
			err = fieldErr("state", strconv.Itoa(int(o.State))+" is not a plan state")
		}
	case OpLink:
		n.Need, err = o.Need, checkRef("need", o.Need)
	case OpAnnotate:
		if err = checkName("key", o.Key); err == nil {
			n.Key = o.Key
			n.Value, err = normValue("value", o.Value)
		}
	}
	if err != nil {
		return Op{}, err
	}
	// A field the kind does not use must be zero: otherwise two different
	// Go values would be the same op on the wire.
	for _, f := range []struct {
		name string
		set  bool
	}{
		{"spec", o.Spec != nil && o.Kind != OpAddTask},
		{"on", o.On != "" && o.Kind != OpRequires},
		{"ref", o.Ref != "" && o.Kind != OpProduces},
		{"state", o.State != 0 && o.Kind != OpState},
		{"need", o.Need != "" && o.Kind != OpLink},
		{"key", o.Key != "" && o.Kind != OpAnnotate},
		{"value", o.Value != nil && o.Kind != OpAnnotate},
	} {
		if f.set {
			return Op{}, fieldErr(f.name, "not a field of "+string(o.Kind))
		}
	}
	return n, nil
}

func checkName(field, s string) error {
	switch {
	case s == "":
		return fieldErr(field, "empty")
	case len(s) > MaxIDLen:
		return fieldErr(field, fmt.Sprintf("%d bytes, at most %d", len(s), MaxIDLen))
	case !utf8.ValidString(s):
		return fieldErr(field, "not valid UTF-8")
	}
	return nil
}

func checkRef(field, s string) error {
	if !envelope.IsRef(s) {
		return fieldErr(field, quote(s)+" is not a sha256 ref")
	}
	return nil
}

func normValue(field string, raw json.RawMessage) (json.RawMessage, error) {
	v, err := canonicalValue(raw)
	if err != nil {
		return nil, &FieldError{Field: field, Detail: "not canonicalizable JSON", Err: err}
	}
	return v, nil
}

// quote quotes s for an error message, cut to 40 bytes.
func quote(s string) string {
	if len(s) > 40 {
		cut := 40
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		return strconv.Quote(s[:cut]) + "..."
	}
	return strconv.Quote(s)
}

// appendOp appends the RFC 8785 form of a normalized op.
func appendOp(b []byte, o Op) []byte {
	b = append(b, '{')
	switch o.Kind {
	case OpAddTask: // op, spec, task
		b = appendString(appendKey(b, "op"), string(o.Kind))
		b = append(append(appendKey(append(b, ','), "spec"), o.Spec...), ',')
	case OpRequires: // on, op, task
		b = appendString(appendKey(b, "on"), o.On)
		b = appendString(appendKey(append(b, ','), "op"), string(o.Kind))
		b = append(b, ',')
	case OpProduces: // op, ref, task
		b = appendString(appendKey(b, "op"), string(o.Kind))
		b = appendString(appendKey(append(b, ','), "ref"), o.Ref)
		b = append(b, ',')
	case OpState: // op, state, task
		b = appendString(appendKey(b, "op"), string(o.Kind))
		b = appendString(appendKey(append(b, ','), "state"), o.State.String())
		b = append(b, ',')
	case OpLink: // need, op, task
		b = appendString(appendKey(b, "need"), o.Need)
		b = appendString(appendKey(append(b, ','), "op"), string(o.Kind))
		b = append(b, ',')
	case OpAnnotate: // key, op, task, value
		b = appendString(appendKey(b, "key"), o.Key)
		b = appendString(appendKey(append(b, ','), "op"), string(o.Kind))
		b = append(b, ',')
	}
	b = appendString(appendKey(b, "task"), o.Task)
	if o.Kind == OpAnnotate {
		b = append(appendKey(append(b, ','), "value"), o.Value...)
	}
	return append(b, '}')
}

// MarshalJSON writes the op's RFC 8785 wire form, e.g.
// {"op":"ADD_TASK","spec":{...},"task":"t1"}. It fails on an invalid op.
// Note that json.Marshal escapes <, > and & in what MarshalJSON returns,
// which is no longer RFC 8785; call MarshalJSON or EncodeOps directly, or
// use a json.Encoder with SetEscapeHTML(false).
func (o Op) MarshalJSON() ([]byte, error) {
	n, err := o.Normalize()
	if err != nil {
		return nil, fmt.Errorf("plan: encode op: %w", err)
	}
	return appendOp(nil, n), nil
}

// UnmarshalJSON decodes one op strictly, as ParseOps decodes each element.
func (o *Op) UnmarshalJSON(raw []byte) error {
	if err := checkJSON(raw, ""); err != nil { // when called directly
		return err
	}
	n, err := parseOp(raw)
	if err != nil {
		return err
	}
	*o = n
	return nil
}

// EncodeOps writes ops as the RFC 8785 array an UPDATE_PLAN's "ops" holds.
// It fails on an invalid op (naming its index) or on more than MaxOps ops.
func EncodeOps(ops []Op) ([]byte, error) {
	if err := checkCount(len(ops)); err != nil {
		return nil, err
	}
	b := []byte{'['}
	for i, o := range ops {
		n, err := o.Normalize()
		if err != nil {
			return nil, under("ops["+strconv.Itoa(i)+"]", err)
		}
		if i > 0 {
			b = append(b, ',')
		}
		b = appendOp(b, n)
	}
	return append(b, ']'), nil
}

// EncodeUpdatePlan writes the payload of an UPDATE_PLAN: {"ops":[...]}.
func EncodeUpdatePlan(ops []Op) ([]byte, error) {
	arr, err := EncodeOps(ops)
	if err != nil {
		return nil, err
	}
	b := append([]byte(`{"ops":`), arr...)
	return append(b, '}'), nil
}

func checkCount(n int) error {
	switch {
	case n == 0:
		return fieldErr("ops", "empty: an UPDATE_PLAN carries 1 to "+strconv.Itoa(MaxOps)+" ops")
	case n > MaxOps:
		return fieldErr("ops", fmt.Sprintf("%d ops, at most %d", n, MaxOps))
	}
	return nil
}
