package replay_test

import (
	"context"
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
	rep, err := replay.Run(context.Background(), replay.Options{DataDir: dir, NoRerun: true})
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
