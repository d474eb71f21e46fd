package policy

import (
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
)

// The value reader agrees with OPA's own Rego parser on the value syntax.
func TestReadValueMatchesOPAParser(t *testing.T) {
	cases := []string{
		`[]`, `[{"result": 18}]`, `{{"result": {"b", "a", "c"}}}`, `set()`, `{}`, `{"a": set(), "b": [1, 2.5, -3e2]}`,
		`{"k": {"x": [true, false, null]}, "s": "q\"\\u00e9\n"}`, `{{"a": 1}, {"a": 2}}`, `[[], {}, set(), "", 0]`,
		`{1, "1", [1], {"1": 1}, {1}}`,
	}
	for _, c := range cases {
		got, err := readValue([]byte(c))
		if err != nil {
			t.Fatalf("%s: %v", c, err)
		}
		want, err := ast.ParseTerm(c)
		if err != nil {
			t.Fatalf("%s: OPA: %v", c, err)
		}
		if got.Value.Compare(want.Value) != 0 {
			t.Fatalf("%s: read %v, OPA parses %v", c, got, want)
		}
	}
	for _, bad := range []string{``, `[`, `{"a" 1}`, `{1, 2`, `"x`, `tru`, `[1,]x`, `1 2`} {
		if _, err := readValue([]byte(bad)); err == nil {
			t.Errorf("%q: accepted", bad)
		}
	}
}

// FuzzReadValue: whatever a policy module writes, reading it never panics,
// and what reads converts to JSON.
func FuzzReadValue(f *testing.F) {
	f.Add([]byte(`{{"result": {"b", "a"}}}`))
	f.Add([]byte(`[{"result": {"k": [1, null]}}]`))
	f.Fuzz(func(t *testing.T, text []byte) {
		got, err := readValue(text)
		if err != nil {
			return
		}
		if _, err := ast.JSON(got.Value); err != nil {
			t.Fatalf("read %q but cannot convert it to JSON: %v", text, err)
		}
	})
}
