package softsettings

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/lni/dragonboat/v4/logger"
)

// A line of a kind printed less than repeatEvery ago is held back and
// counted; the next one after that says how many were; another kind (the
// same format to another address) is not held back by the first.
func TestRaftLinesRepeatAtMostEveryInterval(t *testing.T) {
	var out bytes.Buffer
	now := time.Date(2026, 11, 28, 1, 0, 0, 0, time.UTC)
	s := &raftSink{out: &out, now: func() time.Time { return now }, repeatEvery: 30 * time.Second}
	const format = "Nodehost %s failed to get a connection to %s, %v"
	for i := 0; i < 50; i++ {
		// The error differs each time (a new local port): not the kind.
		refused := fmt.Errorf("dial tcp 127.0.0.1:%d->127.0.0.1:1001: connection refused", 40000+i)
		s.write('E', "transport", format, []any{"127.0.0.1:1000", "127.0.0.1:1001", refused})
		s.write('E', "transport", format, []any{"127.0.0.1:1000", "127.0.0.1:1002", refused})
		now = now.Add(100 * time.Millisecond)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], "E | raft transport: Nodehost 127.0.0.1:1000 failed to get a connection to 127.0.0.1:1001, dial tcp 127.0.0.1:40000->127.0.0.1:1001: connection refused") ||
		!strings.Contains(lines[1], "127.0.0.1:1002") {
		t.Fatalf("50 repeats of two kinds in 5 s printed:\n%s", out.String())
	}
	now = now.Add(30 * time.Second)
	out.Reset()
	s.write('E', "transport", format, []any{"127.0.0.1:1000", "127.0.0.1:1001", errors.New("connection refused")})
	if got := out.String(); !strings.Contains(got, "127.0.0.1:1001") || !strings.Contains(got, "(49 more like it in the last 35s)") {
		t.Fatalf("the repeat after the interval printed %q, want the 49 held back counted", got)
	}
	out.Reset()
	s.write('E', "transport", format, []any{"127.0.0.1:1000", "127.0.0.1:1001", errors.New("connection refused")})
	if out.Len() != 0 {
		t.Fatalf("a repeat right after printed %q", out.String())
	}
}

// A logger prints what its level lets through and nothing above it.
func TestRaftLoggerLevels(t *testing.T) {
	var out bytes.Buffer
	old := raftLogs
	raftLogs = &raftSink{out: &out, now: time.Now, repeatEvery: time.Minute}
	defer func() { raftLogs = old }()
	l := newRaftLogger("raft")
	l.Infof("info %d", 1)
	l.Warningf("warning %d", 1)
	l.Errorf("error %d", 1)
	l.SetLevel(logger.DEBUG)
	l.Debugf("debug %d", 2)
	got := out.String()
	if strings.Contains(got, "info 1") || strings.Contains(got, "warning 1") || !strings.Contains(got, "E | raft raft: error 1") ||
		!strings.Contains(got, "D | raft raft: debug 2") {
		t.Fatalf("at ERROR then DEBUG the logger printed:\n%s", got)
	}
	defer func() {
		if r := recover(); r == nil || !strings.Contains(out.String(), "C | raft raft: fatal 3") {
			t.Fatalf("Panicf: recovered %v, printed:\n%s", r, out.String())
		}
	}()
	l.SetLevel(logger.CRITICAL)
	l.Panicf("fatal %d", 3)
}
