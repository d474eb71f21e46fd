package replay_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/canswarm/swarmhost/host/replay"
)

// A trail an earlier build wrote replays with this one: a change that
// altered a decision's bytes (a payload's encoding, a decision id, the
// order of a list) would make every trail in users' hands diverge.
// testdata/trail-2f5af8e is the audit folder of `swarmhost demo` run by
// the build of commit 2f5af8e (end of session 7), with the capability
// tokens from its CAS (all a --no-rerun replay reads there; the modules
// are left out).
func TestReplaysATrailAnEarlierBuildWrote(t *testing.T) {
	dir := t.TempDir()
	if err := os.CopyFS(dir, os.DirFS(filepath.Join("testdata", "trail-2f5af8e"))); err != nil {
		t.Fatal(err)
	}
	rep, err := runBoth(t, replay.Options{DataDir: dir, NoRerun: true})
	if err != nil {
		t.Fatalf("the earlier build's trail does not replay: %v", err)
	}
	// What that build's own replay printed for it.
	const plan = "sha256:e6c719d2351d4e55ca6e92ae71deacc980c0ce8d19500a85d35a5e982f63fd5e"
	if rep.Threads != 2 || rep.Envelopes != 13 || rep.Decisions != 2 || rep.PlanDigest != plan {
		t.Fatalf("replayed %d threads, %d envelopes, %d decisions, plan %s; the earlier build: 2, 13, 2, %s",
			rep.Threads, rep.Envelopes, rep.Decisions, rep.PlanDigest, plan)
	}
}

// An envelope the rules publish may be rejected when it comes back: here
// the planner's UPDATE_PLANs for NEEDs a checkpoint retired before the
// planner answered (checkpoints every 100 ms). It is in the trail all the
// same, as a rejected line, and the replay must find it there: in session
// 13 a replay that looked only at accepted lines said the trail lacked
// it. testdata/trail-late-update-plan: 10 flows on one node of commit
// 545660f, its audit folder and the capability tokens from its CAS.
func TestReplayFindsTheRulesEnvelopesTheTrailRejected(t *testing.T) {
	dir := t.TempDir()
	if err := os.CopyFS(dir, os.DirFS(filepath.Join("testdata", "trail-late-update-plan"))); err != nil {
		t.Fatal(err)
	}
	rejected := 0
	files, _ := filepath.Glob(filepath.Join(dir, "audit", "*.jsonl"))
	for _, f := range files {
		text, _ := os.ReadFile(f)
		for _, l := range bytes.Split(text, []byte("\n")) {
			if bytes.Contains(l, []byte(`"verb\":\"UPDATE_PLAN\"`)) && bytes.Contains(l, []byte(`"reason":"wrong_state"`)) {
				rejected++
			}
		}
	}
	if rejected == 0 {
		t.Fatal("the trail has no rejected UPDATE_PLAN: it no longer tests what it is for")
	}
	rep, err := runBoth(t, replay.Options{DataDir: dir, NoRerun: true})
	if err != nil {
		t.Fatalf("%d UPDATE_PLANs rejected as they came back: %v", rejected, err)
	}
	if rep.Threads != 11 || rep.Decisions != 20 {
		t.Fatalf("report %+v: want the 10 flows' 20 decisions on 11 threads", rep)
	}
}
