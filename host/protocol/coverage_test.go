package protocol_test

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/canswarm/swarmhost/abi/envelope"
)

// TestScriptCoverage reads the golden outputs of testdata/*.txt and fails
// unless every verb of PROTOCOL.md section 5 is accepted somewhere and
// every rejection code of section 2 is given somewhere, so that removing or
// rewriting a script cannot silently drop a case. Duplicates and retries
// must show too.
func TestScriptCoverage(t *testing.T) {
	var golden strings.Builder
	for _, path := range scriptFiles(t) {
		text, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		cases, _, err := parseScript(string(text))
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		for _, c := range cases {
			golden.WriteString(c.want + "\n")
		}
	}
	out := golden.String()
	for _, v := range envelope.Verbs {
		re := regexp.MustCompile(`(?m)^(recv|publish|redeliver) ` + string(v) + ` .* -> accepted$`)
		if !re.MatchString(out) {
			t.Errorf("no script shows a %s accepted", v)
		}
	}
	for _, c := range envelope.Codes {
		if !strings.Contains(out, "-> rejected "+string(c)+": ") {
			t.Errorf("no script shows a rejection %s", c)
		}
	}
	for _, want := range []string{"-> duplicate", "-> retry ", "\nredeliver ", "\ngiveup "} {
		if !strings.Contains(out, want) {
			t.Errorf("no script output contains %q", want)
		}
	}
}
