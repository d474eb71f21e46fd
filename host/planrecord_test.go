package host_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/canswarm/swarmhost/host"
	"github.com/canswarm/swarmhost/host/protocol"
)

// An agent call's plan_query answers are recorded in order, and a rerun is
// answered from the record: the same requests get the same answers (errors
// included); a request that differs, or one too many, is a mismatch.
func TestPlanAnswersRecordedAndReplayed(t *testing.T) {
	ctx := context.Background()
	live := func(_ context.Context, req []byte) ([]byte, error) {
		if string(req) == `{"task":"missing"}` {
			return nil, errors.New("no such task")
		}
		return []byte(`{"answer":` + string(req) + `}`), nil
	}
	var answers []protocol.PlanAnswer
	rec := host.RecordPlanAnswers(live, &answers)
	reqs := []string{`{"task":"a"}`, `{"task":"missing"}`, `{"tasks":true}`}
	var want []string
	for _, r := range reqs {
		a, err := rec(ctx, []byte(r))
		want = append(want, string(a)+errString(err))
	}
	if len(answers) != 3 || answers[1].Err != "no such task" {
		t.Fatalf("recorded %+v", answers)
	}

	var mismatch string
	again := host.RecordedPlanAnswers(answers, &mismatch)
	for i, r := range reqs {
		a, err := again(ctx, []byte(r))
		if got := string(a) + errString(err); got != want[i] {
			t.Fatalf("rerun answer %d: %q, live %q", i, got, want[i])
		}
	}
	if mismatch != "" {
		t.Fatal(mismatch)
	}
	if _, err := again(ctx, []byte(`{"task":"a"}`)); err == nil || !strings.Contains(mismatch, "made only 3") {
		t.Fatalf("one call too many: %v, %q", err, mismatch)
	}

	mismatch = ""
	other := host.RecordedPlanAnswers(answers, &mismatch)
	if _, err := other(ctx, []byte(`{"task":"b"}`)); err == nil || !strings.Contains(mismatch, `live it was {"task":"a"}`) {
		t.Fatalf("a different request: %v, %q", err, mismatch)
	}
}

func errString(err error) string {
	if err != nil {
		return "error: " + err.Error()
	}
	return ""
}
