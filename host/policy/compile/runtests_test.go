package compile

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
)

func TestTestReportsPassAndFail(t *testing.T) {
	var out bytes.Buffer
	passed, failed, err := Test(context.Background(), "testdata/mixed", &out)
	if err != nil || passed != 1 || failed != 1 {
		t.Fatalf("Test: %d passed, %d failed, %v\n%s", passed, failed, err, &out)
	}
	report := out.String()
	for _, want := range []string{
		"policy_test.rego:5: data.swarm_test.test_need_admitted: PASS (",
		"policy_test.rego:7: data.swarm_test.test_propose_admitted: FAIL (",
		"    failed at policy_test.rego:8: swarm.admit with input as",
		"PASS: 1/2\nFAIL: 1/2\n",
	} {
		if !strings.Contains(report, want) {
			t.Errorf("report lacks %q:\n%s", want, report)
		}
	}
	// Source order, whatever order the tests ran in.
	if strings.Index(report, "test_need_admitted") > strings.Index(report, "test_propose_admitted") {
		t.Errorf("report not in source order:\n%s", report)
	}
}

func TestTestAllPass(t *testing.T) {
	var out bytes.Buffer
	passed, failed, err := Test(context.Background(), "testdata/ok", &out)
	if err != nil || passed != 2 || failed != 0 || !strings.HasSuffix(out.String(), "PASS: 2/2\n") {
		t.Fatalf("Test: %d passed, %d failed, %v\n%s", passed, failed, err, &out)
	}
}

func TestTestErrorsAndEmpty(t *testing.T) {
	var out bytes.Buffer
	dir := policyDir(t, map[string]string{
		"p.rego":      "package swarm\n\nadmit := true\n\nmulti := 1 if input.x\n\nmulti := 2 if input.x\n",
		"p_test.rego": "package swarm\n\ntest_conflict if multi == 1 with input.x as true\n\ntest_ok if {\n\tprint(\"admit is\", admit)\n\tadmit\n}\n",
	})
	passed, failed, err := Test(context.Background(), dir, &out)
	if err != nil || passed != 1 || failed != 1 ||
		!strings.Contains(out.String(), "p_test.rego:3: data.swarm.test_conflict: ERROR (") ||
		!strings.Contains(out.String(), "eval_conflict_error") ||
		!strings.Contains(out.String(), "test_ok: PASS (") || !strings.Contains(out.String(), "    admit is true\n") ||
		!strings.HasSuffix(out.String(), "PASS: 1/2\nERROR: 1/2\n") {
		t.Fatalf("Test: %d passed, %d failed, %v\n%s", passed, failed, err, &out)
	}

	out.Reset()
	passed, failed, err = Test(context.Background(), policyDir(t, map[string]string{"p.rego": "package swarm\n\nadmit := true\n"}), &out)
	if err != nil || passed+failed != 0 || out.String() != "no tests were run\n" {
		t.Fatalf("no tests: %d passed, %d failed, %v, %q", passed, failed, err, &out)
	}
}

func TestTestForbiddenBuiltin(t *testing.T) {
	dir := policyDir(t, map[string]string{
		"p.rego":      "package swarm\n\nadmit := true\n",
		"p_test.rego": "package swarm\n\ntest_clock if {\n\ttime.now_ns() > 0\n}\n",
	})
	_, _, err := Test(context.Background(), dir, &bytes.Buffer{})
	if !errors.Is(err, ErrForbiddenBuiltin) || err.Error() != "p_test.rego:4: time.now_ns is not allowed: it reads the clock" {
		t.Fatalf("error %v", err)
	}
}
