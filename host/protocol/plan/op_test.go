package plan_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/canswarm/swarmhost/abi/envelope"
	"github.com/canswarm/swarmhost/host/protocol/plan"
)

// Each op kind decodes from its wire form, whatever the key order and
// whitespace, and encodes back to one RFC 8785 form.
func TestParseOpsEachKind(t *testing.T) {
	r, n := ref("artifact"), ref("need")
	cases := []struct {
		name, in, canon string
		want            plan.Op
	}{
		{"ADD_TASK", `{"task":"t1", "spec": {"z":1,"a":[1.0, "x"]}, "op":"ADD_TASK"}`,
			`{"op":"ADD_TASK","spec":{"a":[1,"x"],"z":1},"task":"t1"}`,
			addTask("t1", `{"a":[1,"x"],"z":1}`)},
		{"ADD_TASK null spec", `{"op":"ADD_TASK","task":"t1","spec":null}`,
			`{"op":"ADD_TASK","spec":null,"task":"t1"}`, addTask("t1", `null`)},
		{"ADD_TASK string spec", `{"op":"ADD_TASK","task":"t1","spec":"\u0041<&>"}`,
			`{"op":"ADD_TASK","spec":"A<&>","task":"t1"}`, addTask("t1", `"A<&>"`)},
		{"REQUIRES", `{"op":"REQUIRES","task":"t1","on":"t0"}`,
			`{"on":"t0","op":"REQUIRES","task":"t1"}`, requires("t1", "t0")},
		{"PRODUCES", `{"op":"PRODUCES","task":"t1","ref":"` + r + `"}`,
			`{"op":"PRODUCES","ref":"` + r + `","task":"t1"}`, produces("t1", r)},
		{"STATE", `{"op":"STATE","task":"t1","state":"verified"}`,
			`{"op":"STATE","state":"verified","task":"t1"}`, state("t1", plan.StateVerified)},
		{"STATE todo", `{"op":"STATE","task":"t1","state":"todo"}`,
			`{"op":"STATE","state":"todo","task":"t1"}`, state("t1", plan.StateTodo)},
		{"LINK", `{"op":"LINK","task":"t1","need":"` + n + `"}`,
			`{"need":"` + n + `","op":"LINK","task":"t1"}`, link("t1", n)},
		{"ANNOTATE", `{"op":"ANNOTATE","task":"t\n1","key":"owner","value":{"b":[],"a":1e2}}`,
			`{"key":"owner","op":"ANNOTATE","task":"t\n1","value":{"a":100,"b":[]}}`,
			annotate("t\n1", "owner", `{"a":100,"b":[]}`)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ops, err := plan.ParseOps([]byte("[" + c.in + "]"))
			if err != nil {
				t.Fatal(err)
			}
			if len(ops) != 1 || !ops[0].Equal(c.want) {
				t.Fatalf("parsed %+v, want %+v", ops, c.want)
			}
			// MarshalJSON directly: json.Marshal would re-escape <, > and &.
			enc, err := ops[0].MarshalJSON()
			if err != nil {
				t.Fatal(err)
			}
			if string(enc) != c.canon {
				t.Fatalf("encoded\n got %s\nwant %s", enc, c.canon)
			}
			canonical(t, enc)
			var back plan.Op
			if err := json.Unmarshal(enc, &back); err != nil || !back.Equal(c.want) {
				t.Fatalf("UnmarshalJSON: %+v, %v", back, err)
			}
		})
	}
}

func TestEncodeOpsAndUpdatePlan(t *testing.T) {
	ops := []plan.Op{addTask("a", `{"y":2,"x":1}`), requires("a", "b"), state("b", plan.StateFinal)}
	arr, err := plan.EncodeOps(ops)
	if err != nil {
		t.Fatal(err)
	}
	want := `[{"op":"ADD_TASK","spec":{"x":1,"y":2},"task":"a"},{"on":"b","op":"REQUIRES","task":"a"},` +
		`{"op":"STATE","state":"final","task":"b"}]`
	if string(arr) != want {
		t.Fatalf("EncodeOps\n got %s\nwant %s", arr, want)
	}
	payload, err := plan.EncodeUpdatePlan(ops)
	if err != nil {
		t.Fatal(err)
	}
	if string(payload) != `{"ops":`+want+`}` {
		t.Fatalf("EncodeUpdatePlan: %s", payload)
	}
	canonical(t, payload)
	back, err := plan.ParseUpdatePlan(payload)
	if err != nil {
		t.Fatal(err)
	}
	for i := range ops {
		n, _ := ops[i].Normalize()
		if !back[i].Equal(n) {
			t.Fatalf("op %d: %+v, want %+v", i, back[i], n)
		}
	}
	if _, err := plan.EncodeOps([]plan.Op{addTask("a", "1"), {Kind: plan.OpState, Task: "", State: 1}}); err == nil ||
		err.Error() != "ops[1].task: empty" {
		t.Fatalf("EncodeOps of an invalid op: %v", err)
	}
}

// Every parse error is a *FieldError naming the op's index and field.
func TestParseOpsErrors(t *testing.T) {
	r := ref("x")
	long := strings.Repeat("x", plan.MaxIDLen+1)
	ok := `{"op":"STATE","task":"t","state":"done"}`
	many := "[" + strings.TrimSuffix(strings.Repeat(ok+",", plan.MaxOps+1), ",") + "]"
	cases := []struct{ name, in, want string }{
		{"not UTF-8", "[\"\xff\"]", "ops: not valid UTF-8"},
		{"not JSON", `[`, "ops: not valid JSON: unexpected end of JSON input"},
		{"trailing data", `[] []`, "ops: not valid JSON: invalid character '[' after top-level value"},
		{"object", `{}`, "ops: must be an array, got object"},
		{"null", `null`, "ops: must be an array, got null"},
		{"empty", `[]`, "ops: empty: an UPDATE_PLAN carries 1 to 256 ops"},
		{"too many", many, "ops: 257 ops, at most 256"},
		{"op not object", `[` + ok + `,1]`, "ops[1]: must be an object, got number"},
		{"no kind", `[{"task":"t"}]`, "ops[0].op: missing"},
		{"kind not string", `[{"op":3,"task":"t"}]`, "ops[0].op: must be a string, got number"},
		{"unknown kind", `[{"op":"DELETE","task":"t"}]`, `ops[0].op: "DELETE" is not a plan op`},
		{"lower-case kind", `[{"op":"state","task":"t"}]`, `ops[0].op: "state" is not a plan op`},
		{"unknown field", `[{"op":"STATE","task":"t","state":"done","x":1}]`, `ops[0]: unknown field "x" for STATE`},
		{"field of another kind", `[{"op":"STATE","task":"t","state":"done","spec":1}]`, `ops[0]: unknown field "spec" for STATE`},
		{"duplicate field", `[{"op":"STATE","task":"t","task":"u","state":"done"}]`, `ops[0]: duplicate field "task"`},
		{"task missing", `[{"op":"STATE","state":"done"}]`, "ops[0].task: missing"},
		{"task empty", `[{"op":"STATE","task":"","state":"done"}]`, "ops[0].task: empty"},
		{"task too long", `[{"op":"STATE","task":"` + long + `","state":"done"}]`, "ops[0].task: 257 bytes, at most 256"},
		{"task number", `[{"op":"STATE","task":7,"state":"done"}]`, "ops[0].task: must be a string, got number"},
		{"spec missing", `[{"op":"ADD_TASK","task":"t"}]`, "ops[0].spec: missing"},
		{"on missing", `[{"op":"REQUIRES","task":"t"}]`, "ops[0].on: missing"},
		{"on empty", `[{"op":"REQUIRES","task":"t","on":""}]`, "ops[0].on: empty"},
		{"on array", `[{"op":"REQUIRES","task":"t","on":["u"]}]`, "ops[0].on: must be a string, got array"},
		{"ref missing", `[{"op":"PRODUCES","task":"t"}]`, "ops[0].ref: missing"},
		{"ref bad", `[` + ok + `,{"op":"PRODUCES","task":"t","ref":"sha256:xyz"}]`, `ops[1].ref: "sha256:xyz" is not a sha256 ref`},
		{"ref upper hex", `[{"op":"PRODUCES","task":"t","ref":"` + strings.ToUpper(r) + `"}]`,
			`ops[0].ref: "SHA256:` + strings.ToUpper(r[7:40]) + `"...` + ` is not a sha256 ref`},
		{"state missing", `[{"op":"STATE","task":"t"}]`, "ops[0].state: missing"},
		{"state unknown", `[` + ok + `,` + ok + `,{"op":"STATE","task":"t","state":"doing"}]`, `ops[2].state: "doing" is not a plan state`},
		{"state null", `[{"op":"STATE","task":"t","state":null}]`, "ops[0].state: must be a string, got null"},
		{"state number", `[{"op":"STATE","task":"t","state":2}]`, "ops[0].state: must be a string, got number"},
		{"need missing", `[{"op":"LINK","task":"t"}]`, "ops[0].need: missing"},
		{"need bad", `[{"op":"LINK","task":"t","need":"need-1"}]`, `ops[0].need: "need-1" is not a sha256 ref`},
		{"key missing", `[{"op":"ANNOTATE","task":"t","value":1}]`, "ops[0].key: missing"},
		{"key empty", `[{"op":"ANNOTATE","task":"t","key":"","value":1}]`, "ops[0].key: empty"},
		{"key too long", `[{"op":"ANNOTATE","task":"t","key":"` + long + `","value":1}]`, "ops[0].key: 257 bytes, at most 256"},
		{"key boolean", `[{"op":"ANNOTATE","task":"t","key":true,"value":1}]`, "ops[0].key: must be a string, got boolean"},
		{"value missing", `[{"op":"ANNOTATE","task":"t","key":"k"}]`, "ops[0].value: missing"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ops, err := plan.ParseOps([]byte(c.in))
			if ops != nil {
				t.Fatalf("ops %v returned with an error", ops)
			}
			checkFieldError(t, err, c.want)
		})
	}
}

// An integer beyond 2^53 cannot be kept exactly by RFC 8785: it is refused,
// and the error names the field and wraps the cause.
func TestParseOpsUnsafeInteger(t *testing.T) {
	_, err := plan.ParseOps([]byte(`[{"op":"ANNOTATE","task":"t","key":"k","value":{"n":9007199254740993}}]`))
	var fe *plan.FieldError
	if !errors.As(err, &fe) || fe.Field != "ops[0].value" || envelope.CodeOf(err) != envelope.CodeMalformed {
		t.Fatalf("error %v: want a FieldError at ops[0].value wrapping the envelope's malformed", err)
	}
	if !strings.HasPrefix(err.Error(), "ops[0].value: not canonicalizable JSON: ") {
		t.Fatalf("message %q", err)
	}
	// 1e20 is spelled as a float, but RFC 8785 writes it as the integer
	// 100000000000000000000, which could not be read back: refused too.
	_, err = plan.ParseOps([]byte(`[{"op":"ADD_TASK","task":"t","spec":[1e20]}]`))
	if !errors.As(err, &fe) || fe.Field != "ops[0].spec" {
		t.Fatalf("1e20: error %v, want a FieldError at ops[0].spec", err)
	}
	// 1e21 and 2^53 written as a float stay: RFC 8785 writes 1e+21 and
	// 9007199254740992.
	ops, err := plan.ParseOps([]byte(`[{"op":"ADD_TASK","task":"t","spec":[1e21,9007199254740992.0]}]`))
	if err != nil || string(ops[0].Spec) != `[1e+21,9007199254740992]` {
		t.Fatalf("1e21: %v, %v", ops, err)
	}
}

func TestParseUpdatePlanErrors(t *testing.T) {
	cases := []struct{ in, want string }{
		{`[]`, "payload: must be an object, got array"},
		{`{}`, "ops: missing"},
		{`{"ops":[],"x":1}`, `payload: unknown field "x" for UPDATE_PLAN`},
		{`{"ops":{}}`, "ops: must be an array, got object"},
		{`{"ops":[{"op":"STATE","task":"t","state":"doing"}]}`, `ops[0].state: "doing" is not a plan state`},
	}
	for _, c := range cases {
		_, err := plan.ParseUpdatePlan([]byte(c.in))
		checkFieldError(t, err, c.want)
	}
}

// Normalize refuses a field the kind does not use, and an unknown state.
func TestNormalizeStrayFields(t *testing.T) {
	cases := []struct {
		op   plan.Op
		want string
	}{
		{plan.Op{Kind: plan.OpState, Task: "t", State: 1, Ref: ref("x")}, "ref: not a field of STATE"},
		{plan.Op{Kind: plan.OpAddTask, Task: "t", Key: "k"}, "key: not a field of ADD_TASK"},
		{plan.Op{Kind: plan.OpRequires, Task: "t", On: "u", Value: json.RawMessage("1")}, "value: not a field of REQUIRES"},
		{plan.Op{Kind: plan.OpLink, Task: "t", Need: ref("n"), State: plan.StateDone}, "state: not a field of LINK"},
		{plan.Op{Kind: plan.OpState, Task: "t", State: 9}, "state: 9 is not a plan state"},
		{plan.Op{Kind: "", Task: "t"}, `op: "" is not a plan op`},
		{plan.Op{Kind: plan.OpAddTask, Task: "t", Spec: json.RawMessage("{")}, "spec: not canonicalizable JSON: not valid JSON"},
		{plan.Op{Kind: plan.OpAddTask, Task: "\xff"}, "task: not valid UTF-8"},
	}
	for _, c := range cases {
		_, err := c.op.Normalize()
		checkFieldError(t, err, c.want)
	}
	n, err := plan.Op{Kind: plan.OpAddTask, Task: "t"}.Normalize()
	if err != nil || string(n.Spec) != "null" {
		t.Fatalf("a nil spec normalizes to null: %s, %v", n.Spec, err)
	}
}

func TestStates(t *testing.T) {
	for i, name := range []string{"todo", "claimed", "done", "verified", "final"} {
		s, ok := plan.ParseState(name)
		if !ok || s != plan.States[i] || s.String() != name || !s.Valid() {
			t.Fatalf("state %q: %v %v", name, s, ok)
		}
		if i > 0 && !(plan.States[i-1] < s) {
			t.Fatalf("%v is not after %v", s, plan.States[i-1])
		}
	}
	if _, ok := plan.ParseState("Done"); ok {
		t.Fatal("state names are case-sensitive")
	}
}
