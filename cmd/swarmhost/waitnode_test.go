package main

import (
	"context"
	"net"
	"strconv"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/canswarm/swarmhost/host/api"
	"github.com/canswarm/swarmhost/internal/trailcheck"
)

// cmdWaitNode is the testscript command "waitnode DIR": it waits (up to 90 s)
// until a node serves from the data folder DIR, that is until DIR/node.json
// names an API that answers. A run file left by a killed node names an API
// that no longer answers, so waitnode also waits for its successor.
func cmdWaitNode(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) == 0 {
		ts.Fatalf("usage: waitnode DIR...")
	}
	for _, a := range args {
		waitNode(ts, ts.MkAbs(a))
	}
}

func waitNode(ts *testscript.TestScript, dir string) {
	deadline := time.Now().Add(90 * time.Second)
	var last error
	for time.Now().Before(deadline) {
		c, err := api.Dial(dir)
		if err == nil {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			_, err = c.Status(ctx)
			cancel()
			if err == nil {
				return
			}
		}
		last = err
		time.Sleep(50 * time.Millisecond)
	}
	ts.Fatalf("no node serves from %s: %v", dir, last)
}

// cmdFreePort is "freeport VAR": sets VAR to a loopback TCP port that was
// free a moment ago.
func cmdFreePort(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: freeport VAR")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	ts.Check(err)
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	ts.Setenv(args[0], strconv.Itoa(port))
}

// cmdCheckTrails is "checktrails DIR...": P1 and P2 (internal/trailcheck)
// over the trails of the data folders together.
func cmdCheckTrails(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) == 0 {
		ts.Fatalf("usage: checktrails DIR...")
	}
	var dirs []string
	for _, a := range args {
		dirs = append(dirs, ts.MkAbs(a))
	}
	rep, err := trailcheck.Check(dirs...)
	if neg {
		if err == nil {
			ts.Fatalf("the trails hold P1 and P2")
		}
		return
	}
	ts.Check(err)
	ts.Logf("P1, P2 hold over %d hosts: %d envelopes, %d DECIDEs, %d FINALIZEs, %d fenced", rep.Hosts, rep.Envelopes,
		rep.Decides, rep.Finalizes, rep.Fenced)
}
