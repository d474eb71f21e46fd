package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rogpeppe/go-internal/testscript"

	"github.com/canswarm/swarmhost/host/api"
	"github.com/canswarm/swarmhost/host/bus"
	"github.com/canswarm/swarmhost/host/keys"
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

// cmdWaitHealth is "waithealth DIR REGEXP": waits (90 s at most) until
// the /healthz of the node serving from DIR says it is unhealthy with a
// reason matching REGEXP.
func cmdWaitHealth(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: waithealth DIR REGEXP")
	}
	want, err := regexp.Compile(args[1])
	ts.Check(err)
	c, err := api.Dial(ts.MkAbs(args[0]))
	ts.Check(err)
	var last error
	for deadline := time.Now().Add(90 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		last = c.Health(ctx)
		cancel()
		if last != nil && want.MatchString(last.Error()) {
			ts.Logf("healthz: %v", last)
			return
		}
	}
	ts.Fatalf("the node on %s did not report %q: its last health: %v", args[0], args[1], last)
}

// cmdFreePort is "freeport VAR": sets VAR to a loopback TCP port that was
// free a moment ago, below the kernel's ephemeral range when it can: a port
// the kernel hands out for ":0" may be handed out again, before the node
// binds it, as the source port of another node's outgoing connection (a
// cluster test failed on "address already in use" that way).
func cmdFreePort(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: freeport VAR")
	}
	port, err := freePort()
	ts.Check(err)
	ts.Setenv(args[0], strconv.Itoa(port))
}

var (
	portsMu    sync.Mutex
	portsGiven = map[int]bool{}
)

// freePort is a loopback port no listener holds now and no test was given
// before: picked at random below the ephemeral range, where no outgoing
// connection takes its source port, else (no range known) from the kernel.
func freePort() (int, error) {
	portsMu.Lock()
	defer portsMu.Unlock()
	low := 10000
	if high := ephemeralLow(); high > low+1000 {
		for try := 0; try < 200; try++ {
			port := low + rand.IntN(high-low)
			if portsGiven[port] {
				continue
			}
			if l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port)); err == nil {
				l.Close()
				portsGiven[port] = true
				return port, nil
			}
		}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	port := l.Addr().(*net.TCPAddr).Port
	portsGiven[port] = true
	return port, nil
}

// ephemeralLow is the lowest port the kernel uses for outgoing
// connections, or 0 when it does not say.
func ephemeralLow() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0
	}
	n, _ := strconv.Atoi(f[0])
	return n
}

// cmdCheckTrails is "checktrails [-stream FILE] DIR...": P1 and P2
// (internal/trailcheck) over the trails of the data folders together; with
// -stream, also P7: every envelope FILE lists (lines "ID VERB", as
// streamids writes them) is in the trail of every one of the folders.
func cmdCheckTrails(ts *testscript.TestScript, neg bool, args []string) {
	var stream string
	if len(args) >= 2 && args[0] == "-stream" {
		stream, args = ts.MkAbs(args[1]), args[2:]
	}
	if len(args) == 0 {
		ts.Fatalf("usage: checktrails [-stream FILE] DIR...")
	}
	var ids []string
	verbs := map[string]string{}
	if stream != "" {
		f, err := os.Open(stream)
		ts.Check(err)
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			fields := strings.Fields(sc.Text())
			if len(fields) == 0 || strings.HasPrefix(fields[0], "#") {
				continue
			}
			ids = append(ids, fields[0])
			if len(fields) > 1 {
				verbs[fields[0]] = fields[1]
			}
		}
		f.Close()
		ts.Check(sc.Err())
		if len(ids) == 0 {
			ts.Fatalf("P7: %s lists no envelope ids", stream)
		}
	}
	var dirs []string
	for _, a := range args {
		dirs = append(dirs, ts.MkAbs(a))
	}
	rep, err := trailcheck.Check(dirs...)
	if err == nil && stream != "" {
		for i, dir := range dirs {
			missing := rep.Missing(dir, ids)
			if len(missing) == 0 {
				continue
			}
			var named []string
			for _, id := range missing[:min(len(missing), 5)] {
				named = append(named, fmt.Sprintf("%s (%s)", id, or(verbs[id], "verb unknown")))
			}
			err = fmt.Errorf("P7: %d of the %d envelopes on the stream are not in the trail of %s: %s", len(missing),
				len(ids), args[i], strings.Join(named, ", "))
			break
		}
	}
	if neg {
		if err == nil {
			ts.Fatalf("the trails hold P1, P2 (and P7)")
		}
		return
	}
	ts.Check(err)
	ts.Logf("P1, P2 hold over %d hosts: %d envelopes, %d DECIDEs, %d FINALIZEs, %d fenced", rep.Hosts, rep.Envelopes,
		rep.Decides, rep.Finalizes, rep.Fenced)
	if stream != "" {
		ts.Logf("P7 holds: each of the %d hosts' trails records all %d envelopes read from the stream", rep.Hosts, len(ids))
	}
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// cmdStreamIDs is "streamids URL|DIR FILE": it reads every envelope on the
// envelope stream of the NATS server or cluster at URL (or the one the node
// serving from the data folder DIR runs, as its node.json says), up to the last one
// there when it starts, through a consumer of its own (deleted after), and
// writes their ids and verbs to FILE, one "ID VERB" a line, for
// "checktrails -stream". The hosts' own durable consumers are left alone;
// their positions are logged.
func cmdStreamIDs(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: streamids URL|DIR FILE")
	}
	url, file := args[0], ts.MkAbs(args[1])
	var (
		secret    string
		tlsConfig *tls.Config
	)
	if !strings.Contains(url, "://") {
		rf, err := api.ReadRunFile(ts.MkAbs(url))
		ts.Check(err)
		if rf.NATSURL == "" {
			ts.Fatalf("the node serving from %s names no NATS server", url)
		}
		secret, tlsConfig = natsAuthIn(ts, url)
		url = rf.NATSURL
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	// bus.Open creates or updates the stream with its Config: ask for the
	// stream as the hosts made it (a default Config would cut a replicated
	// stream down to one replica).
	nc, err := nats.Connect(url, bus.SecretOption(secret), bus.TLSOption(tlsConfig))
	ts.Check(err)
	js, err := jetstream.New(nc)
	ts.Check(err)
	var before *jetstream.StreamInfo
	for {
		var s jetstream.Stream
		ictx, icancel := context.WithTimeout(ctx, 5*time.Second)
		if s, err = js.Stream(ictx, bus.StreamName); err == nil {
			before, err = s.Info(ictx)
		}
		icancel()
		if err == nil || ctx.Err() != nil {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	nc.Close()
	ts.Check(err)
	last := before.State.LastSeq
	if last == 0 {
		ts.Fatalf("the stream %s at %s is empty", bus.StreamName, url)
	}
	b, err := bus.Open(ctx, bus.Config{URL: url, Secret: secret, ClientTLS: tlsConfig, Replicas: before.Config.Replicas, DedupWindow: before.Config.Duplicates,
		MaxAge: before.Config.MaxAge})
	ts.Check(err)
	defer b.Close()

	durable := fmt.Sprintf("streamids-%d", time.Now().UnixNano())
	cons, err := b.Subscribe(ctx, bus.Filter{}, durable)
	ts.Check(err)
	defer func() {
		cons.Close()
		dctx, dcancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer dcancel()
		if err := b.DeleteConsumer(dctx, durable); err != nil {
			ts.Logf("streamids: %v", err)
		}
	}()
	var out strings.Builder
	n, bad := 0, 0
	for seq, failures := uint64(0), 0; seq < last; {
		d, err := cons.Next(ctx)
		if err != nil && ctx.Err() == nil && failures < 100 {
			// A consumer just made on a replicated stream, while a
			// server rejoins the cluster, may have no leader for a
			// moment ("no responders"): the hosts' readers wait too.
			failures++
			ts.Logf("streamids: next: %v (trying again)", err)
			time.Sleep(200 * time.Millisecond)
			continue
		}
		ts.Check(err)
		seq = d.Seq
		ts.Check(d.Ack(ctx))
		if d.Envelope == nil {
			// Not even decodable: a trail records it by its bytes, with
			// no id to look for.
			bad++
			continue
		}
		fmt.Fprintf(&out, "%s %s\n", d.Envelope.ID, d.Envelope.Verb)
		n++
	}
	ts.Check(os.WriteFile(file, []byte(out.String()), 0o644))
	ts.Logf("streamids: %d envelopes (stream seq %d to %d, %d undecodable) on %s at %s", n, before.State.FirstSeq, last, bad,
		bus.StreamName, url)

	// The hosts' durable consumers, for the log: where each one stands.
	s, err := b.JetStream().Stream(ctx, bus.StreamName)
	ts.Check(err)
	if info, err := s.Info(ctx); err == nil && info.Config.Replicas != before.Config.Replicas {
		ts.Fatalf("streamids changed the stream's replicas from %d to %d", before.Config.Replicas, info.Config.Replicas)
	}
	l := s.ListConsumers(ctx)
	for ci := range l.Info() {
		if ci.Name == durable {
			continue
		}
		ts.Logf("streamids: consumer %s (filter %q): ack floor %d, delivered %d, %d pending, %d unacked, %d pull requests waiting",
			ci.Name, ci.Config.FilterSubject, ci.AckFloor.Stream, ci.Delivered.Stream, ci.NumPending, ci.NumAckPending, ci.NumWaiting)
	}
	if err := l.Err(); err != nil {
		ts.Logf("streamids: list consumers: %v", err)
	}
}

// cmdWaitConsumed is "waitconsumed DIR...": it waits (up to 90 s) until the
// durable consumer through which the host of each data folder DIR reads the
// envelope stream has nothing left to deliver and nothing unacknowledged,
// that is until the host has recorded every envelope on the stream (a host
// acknowledges an envelope once it is in its trail). An envelope delivered
// to a process that was then killed comes again only once its ack wait (30
// s) has passed. It asks the NATS server of the node serving from the first
// DIR.
func cmdWaitConsumed(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) == 0 {
		ts.Fatalf("usage: waitconsumed DIR...")
	}
	rf, err := api.ReadRunFile(ts.MkAbs(args[0]))
	ts.Check(err)
	secret, tlsConfig := natsAuthIn(ts, args[0])
	nc, err := nats.Connect(rf.NATSURL, bus.SecretOption(secret), bus.TLSOption(tlsConfig))
	ts.Check(err)
	defer nc.Close()
	js, err := jetstream.New(nc)
	ts.Check(err)
	start := time.Now()
	deadline := start.Add(90 * time.Second)
	for _, dir := range args {
		// A host reads the stream through the durable "host-" and the first
		// 16 hex digits of its root key (host.Open).
		k, err := keys.Load(ts.MkAbs(dir+"/keys/root.json"), nil)
		ts.Check(err)
		durable := "host-" + k.PublicHex()[:16]
		var ci *jetstream.ConsumerInfo
		for first := true; ; first = false {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			var c jetstream.Consumer
			if c, err = js.Consumer(ctx, bus.StreamName, durable); err == nil {
				ci, err = c.Info(ctx)
			}
			cancel()
			if err == nil && first {
				ts.Logf("waitconsumed: %s (%s): ack floor %d, delivered %d, %d pending, %d unacked, %d redelivered", dir, durable,
					ci.AckFloor.Stream, ci.Delivered.Stream, ci.NumPending, ci.NumAckPending, ci.NumRedelivered)
			}
			if err == nil && ci.NumPending == 0 && ci.NumAckPending == 0 {
				break
			}
			if time.Now().After(deadline) {
				if err != nil {
					ts.Fatalf("waitconsumed: %s (%s): %v", dir, durable, err)
				}
				ts.Fatalf("waitconsumed: %s (%s) still has %d envelopes to deliver and %d unacknowledged (ack floor %d, delivered %d)",
					dir, durable, ci.NumPending, ci.NumAckPending, ci.AckFloor.Stream, ci.Delivered.Stream)
			}
			time.Sleep(200 * time.Millisecond)
		}
		ts.Logf("waitconsumed: %s has recorded the stream to seq %d (after %v)", dir, ci.AckFloor.Stream,
			time.Since(start).Round(time.Millisecond))
	}
}

// natsAuthIn is what the CLI gives the NATS server of the node serving
// from data folder dir: its bus secret (bus.secret) and its TLS
// (cluster-tls), when it has them.
func natsAuthIn(ts *testscript.TestScript, dir string) (string, *tls.Config) {
	e := &env{}
	secret, err := e.busSecretOf(ts.MkAbs(dir))
	ts.Check(err)
	tlsConfig, err := e.natsTLS(ts.MkAbs(dir), true)
	ts.Check(err)
	return secret, tlsConfig
}
