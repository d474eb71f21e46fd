package demo

import (
	"context"
	"strings"
	"testing"

	"github.com/open-policy-agent/opa/v1/rego"

	"github.com/canswarm/swarmhost/policies"
)

// FitsInline says yes exactly where the classify capsule's admit allows
// the items inline: at its bounds, and one text or one character past
// them (characters, not bytes: Rego's count). The capsule is evaluated by
// OPA itself from its Rego, so the demo's bounds follow the capsule's.
func TestFitsInlineIsTheCapsulesBound(t *testing.T) {
	src, err := policies.Classify.ReadFile("classify/classify.rego")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	admit, err := rego.New(rego.Query("data.swarm.admit"), rego.Module("classify.rego", string(src))).PrepareForEval(ctx)
	if err != nil {
		t.Fatal(err)
	}
	admits := func(items []string) bool {
		t.Helper()
		texts := make([]any, len(items))
		for i, it := range items {
			texts[i] = it
		}
		rs, err := admit.Eval(ctx, rego.EvalInput(map[string]any{"entrypoint": "admit", "context": map[string]any{},
			"envelope": map[string]any{"verb": "NEED", "content_refs": []any{},
				"payload": map[string]any{"capability": "classify", "k": 3, "n": 3, "input": texts}}}))
		if err != nil {
			t.Fatal(err)
		}
		return len(rs) == 1 && rs[0].Expressions[0].Value == true
	}
	many := func(n int) []string { return strings.Split(strings.Repeat("t,", n)[:2*n-1], ",") }
	long := strings.Repeat("é", MaxInlineTextChars) // 2 bytes a character
	for name, items := range map[string][]string{
		"one text":                   {"where is my parcel"},
		"as many texts as admitted":  many(MaxInlineTexts),
		"one text too many":          many(MaxInlineTexts + 1),
		"a text as long as admitted": {"ok", long},
		"a character too long":       {"ok", long + "e"},
	} {
		if got, want := FitsInline(items), admits(items); got != want {
			t.Errorf("%s (%d texts): FitsInline %v, the capsule admits inline %v", name, len(items), got, want)
		}
	}
}
