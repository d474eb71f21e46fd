package demo_test

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/canswarm/swarmhost/abi/envelope"
	"github.com/canswarm/swarmhost/host/audit"
	"github.com/canswarm/swarmhost/host/demo"
)

// The demonstration runs on the real embedded server and its own checks
// hold; running it again on the same folder (a restarted node) works too and
// the trail stays verifiable.
func TestDemoRunsTwiceOnOneFolder(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	dir := t.TempDir()
	var out bytes.Buffer
	res, err := demo.Run(ctx, demo.Options{DataDir: dir, Out: &out})
	if err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if res.Rejected[envelope.CodeUnauthorized] != 1 || res.Rejected[envelope.CodePayloadHashMismatch] != 1 {
		t.Fatalf("rejections %v", res.Rejected)
	}
	if !strings.Contains(out.String(), "demo: ok:") {
		t.Fatalf("no summary line:\n%s", out.String())
	}
	first := res.Report.Records
	res2, err := demo.Run(ctx, demo.Options{DataDir: dir, Out: &out})
	if err != nil {
		t.Fatalf("second run: %v\n%s", err, out.String())
	}
	rep, err := audit.Verify(dir + "/audit")
	if err != nil {
		t.Fatal(err)
	}
	if res2.Need == res.Need || rep.Threads != 2 || rep.Records != 2*first {
		t.Fatalf("after two runs: %d threads, %d records (first run %d); NEEDs %s, %s", rep.Threads, rep.Records, first, res.Need, res2.Need)
	}
}
