package replay_test

import (
	"bytes"
	"context"
	"errors"
	"reflect"
	"testing"

	"github.com/canswarm/swarmhost/host/audit"
	"github.com/canswarm/swarmhost/host/replay"
)

// runBoth replays a trail read whole and streamed (Options.Streamed), and
// fails unless the two agree: the same report and output, or the same
// kind of failure naming the same thread and line. It returns the whole
// replay's result, its output written to opts.Out.
func runBoth(t *testing.T, opts replay.Options) (*replay.Report, error) {
	t.Helper()
	out := opts.Out
	var whole, streamed bytes.Buffer
	opts.Out = &whole
	rep, err := replay.Run(context.Background(), opts)
	opts.Out, opts.Streamed = &streamed, true
	srep, serr := replay.Run(context.Background(), opts)
	if serr == nil {
		if !srep.Streamed {
			t.Fatalf("Options.Streamed: the report says the trail was read whole")
		}
		srep.Streamed = false
	}
	switch kind, th, line := located(err); {
	case err == nil || serr == nil:
		if err != nil || serr != nil || !reflect.DeepEqual(rep, srep) || whole.String() != streamed.String() {
			t.Fatalf("whole: %v %+v\n%s\nstreamed: %v %+v\n%s", err, rep, whole.String(), serr, srep, streamed.String())
		}
	default:
		skind, sth, sline := located(serr)
		if skind != kind || sth != th || sline != line {
			t.Fatalf("whole: %v\nstreamed: %v", err, serr)
		}
	}
	if out != nil {
		out.Write(whole.Bytes())
	}
	return rep, err
}

// located is the kind of failure a replay error is and the thread and line
// it names.
func located(err error) (kind, thread string, line int) {
	var div *replay.Divergence
	var tamper *audit.TamperError
	switch {
	case errors.As(err, &div):
		return "divergence", div.Thread, div.Line
	case errors.As(err, &tamper):
		return "tamper", tamper.Thread, int(tamper.Line)
	}
	return "", "", 0
}

// A trail over the size a replay streams by itself is streamed without
// being asked; one under it is read whole.
func TestReplayStreamsALargeTrailByItself(t *testing.T) {
	dir := demoTrail(t)
	for _, above := range []int64{1 << 40, 1} {
		restore := replay.SetStreamAbove(above)
		rep, err := replay.Run(context.Background(), replay.Options{DataDir: dir, NoRerun: true})
		restore()
		if err != nil {
			t.Fatal(err)
		}
		if rep.Streamed != (above == 1) {
			t.Fatalf("streamed above %d bytes of trail: the report says streamed=%v", above, rep.Streamed)
		}
	}
}
