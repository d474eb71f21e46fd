package demo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"time"

	"github.com/canswarm/swarmhost/abi/envelope"
	"github.com/canswarm/swarmhost/host/audit"
	"github.com/canswarm/swarmhost/host/bus"
	"github.com/canswarm/swarmhost/host/cas"
	"github.com/canswarm/swarmhost/host/keys"
	"github.com/canswarm/swarmhost/host/lamport"
)

// Options configure a demonstration run.
type Options struct {
	DataDir string    // the node's data folder (created if missing)
	Out     io.Writer // where the steps are written
}

// Result is what the run observed, for tests and the final summary.
type Result struct {
	Published  int // distinct messages stored by the stream
	Duplicates int // publishes the stream acknowledged as duplicates
	Accepted   int
	Rejected   map[envelope.Code]int
	Need       string // the NEED's id: its thread
	Report     *audit.Report
}

// principal is a key with its own persistent Lamport clock and token.
type principal struct {
	name  string
	key   *keys.Key
	clock *lamport.Clock
	token string // ref of its capability token in the CAS
}

func (p *principal) sign(d envelope.Draft) (*envelope.Envelope, error) {
	l, err := p.clock.Tick()
	if err != nil {
		return nil, err
	}
	d.Lamport, d.Capability = l, p.token
	e, err := envelope.Sign(d, p.key.Private)
	if err != nil {
		return nil, fmt.Errorf("%s signs %s: %w", p.name, d.Verb, err)
	}
	return e, nil
}

// Run performs the demonstration. See the package documentation.
func Run(ctx context.Context, opts Options) (*Result, error) {
	out := opts.Out
	if out == nil {
		out = io.Discard
	}
	step := func(format string, args ...any) { fmt.Fprintf(out, "- "+format+"\n", args...) }
	dir := opts.DataDir

	b, err := bus.Open(ctx, bus.Config{DataDir: dir})
	if err != nil {
		return nil, err
	}
	defer b.Close()
	step("bus: embedded nats-server listening at %s, JetStream stream %s stored in %s (fsync on every write)",
		b.Embedded().ClientURL(), bus.StreamName, filepath.Join(dir, "nats"))

	store, err := cas.NewFileStore(filepath.Join(dir, "cas"))
	if err != nil {
		return nil, err
	}
	keyStore, err := keys.NewStore(filepath.Join(dir, "keys"), func(w string) { step("warning: %s", w) })
	if err != nil {
		return nil, err
	}
	host, err := keyStore.Ensure("host")
	if err != nil {
		return nil, err
	}
	roots := envelope.Roots{host.PublicHex()}
	step("keys: host (root issuer) %s", host.PublicHex())

	grants := []struct {
		name  string
		roles []envelope.Role
		caps  []string
	}{
		{"client", []envelope.Role{envelope.RoleClient}, nil},
		{"worker-1", []envelope.Role{envelope.RoleWorker}, []string{"classify"}},
		{"worker-2", []envelope.Role{envelope.RoleWorker}, []string{"classify"}},
	}
	ps := map[string]*principal{}
	for _, g := range grants {
		k, err := keyStore.Ensure(g.name)
		if err != nil {
			return nil, err
		}
		clock, err := lamport.Open(filepath.Join(dir, "clocks", g.name), 0)
		if err != nil {
			return nil, err
		}
		_, ref, err := keys.IssueAndStore(ctx, store, host, k.Public, g.roles, g.caps, 0)
		if err != nil {
			return nil, err
		}
		ps[g.name] = &principal{name: g.name, key: k, clock: clock, token: ref}
		step("keys: %-8s %s, capability token %v %v stored in the CAS as %s", g.name, k.PublicHex()[:16]+"…", g.roles, g.caps, ref)
	}

	input, _ := json.Marshal([]string{"the invoice is 30 days overdue", "great product, thanks!", "where is my parcel?"})
	inputRef, err := store.Put(ctx, input)
	if err != nil {
		return nil, err
	}
	step("cas: input blob (%d bytes) stored as %s", len(input), inputRef)

	client, w1, w2 := ps["client"], ps["worker-1"], ps["worker-2"]
	need, err := client.sign(envelope.Draft{Verb: envelope.VerbNeed, ContentRefs: []string{inputRef}, Payload: map[string]any{
		"capability": "classify", "k": 1, "n": 1, "bid_window_ms": 500, "lease_ms": 5000, "max_epochs": 3,
		"gas_budget": 1000000, "deadline_ms": 60000, "nonce": "demo-1",
	}})
	if err != nil {
		return nil, err
	}
	step("sign: client NEED %s at lamport %d", need.ID, need.Lamport)
	bid := func(p *principal, price int) (*envelope.Envelope, error) {
		if err := p.clock.Observe(need.Lamport); err != nil {
			return nil, err
		}
		return p.sign(envelope.Draft{ThreadID: need.ID, Verb: envelope.VerbPropose, Payload: map[string]any{
			"epoch": 1, "bid": map[string]any{"price": price, "eta_ms": 200 * price},
		}})
	}
	bid1, err := bid(w1, 3)
	if err != nil {
		return nil, err
	}
	bid2, err := bid(w2, 2)
	if err != nil {
		return nil, err
	}
	step("sign: worker-1 PROPOSE %s (price 3), worker-2 PROPOSE %s (price 2)", bid1.ID, bid2.ID)
	rogue, err := bid(client, 1) // a client may not bid: its token grants no such role
	if err != nil {
		return nil, err
	}
	forged, err := forge(bid2)
	if err != nil {
		return nil, err
	}
	step("sign: client PROPOSE %s (its role may not bid); a copy of worker-2's bid with the price edited to 0 after signing", rogue.ID)

	res := &Result{Rejected: map[envelope.Code]int{}, Need: need.ID}
	for _, e := range []*envelope.Envelope{need, bid1, bid2, rogue, need} {
		ack, err := b.Publish(ctx, e)
		if err != nil {
			return nil, err
		}
		if ack.Duplicate {
			res.Duplicates++
			step("publish: %s %s again: the stream acknowledges a duplicate (seq %d), stores nothing new", e.Verb, short(e.ID), ack.Seq)
			continue
		}
		res.Published++
		step("publish: %s %s -> stream seq %d", e.Verb, short(e.ID), ack.Seq)
	}
	subject, err := bus.SubjectOf(bid2)
	if err != nil {
		return nil, err
	}
	ack, err := b.PublishRaw(ctx, subject, forged, "forged-"+bid2.ID)
	if err != nil {
		return nil, err
	}
	res.Published++
	step("publish: the forged bid, raw, on %s -> stream seq %d", subject, ack.Seq)

	if err := receive(ctx, b, store, roots, filepath.Join(dir, "audit"), filepath.Join(dir, "lamport"), res, step); err != nil {
		return nil, err
	}
	rep, err := audit.Verify(filepath.Join(dir, "audit"))
	if err != nil {
		return nil, fmt.Errorf("audit verify: %w", err)
	}
	res.Report = rep
	step("audit verify: ok: %d threads, %d records, root %s", rep.Threads, rep.Records, rep.Root)
	if err := res.check(); err != nil {
		return nil, err
	}
	fmt.Fprintf(out, "demo: ok: %d messages on the bus (%d duplicate publish acknowledged), %d accepted, %d rejected with reasons, trail verified\n",
		res.Published, res.Duplicates, res.Accepted, res.Published-res.Accepted)
	return res, nil
}

// receive consumes every message from a durable consumer, checks it and
// records it, acknowledging only after the record is on disk.
func receive(ctx context.Context, b *bus.Bus, store cas.Store, roots envelope.Roots, auditDir, clockPath string, res *Result, step func(string, ...any)) error {
	trail, err := audit.Open(auditDir, func(w string) { step("warning: %s", w) })
	if err != nil {
		return err
	}
	defer trail.Close()
	clock, err := lamport.Open(clockPath, 0)
	if err != nil {
		return err
	}
	cons, err := b.Subscribe(ctx, bus.Filter{}, "demo-auditor")
	if err != nil {
		return err
	}
	defer cons.Close()
	for got := 0; got < res.Published; got++ {
		nctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		d, err := cons.Next(nctx)
		cancel()
		if err != nil {
			return fmt.Errorf("receive message %d of %d: %w", got+1, res.Published, err)
		}
		verr := d.Err
		if verr == nil {
			verr = checkCapability(ctx, store, roots, d.Envelope)
		}
		if verr != nil {
			code := envelope.CodeOf(verr)
			if code == "" {
				return verr
			}
			rec, err := trail.AppendRejected(d.Data, code, clock.Now())
			if err != nil {
				return err
			}
			res.Rejected[code]++
			step("receive: seq %d rejected: %v; recorded as line %d of its thread", d.Seq, verr, rec.Seq)
		} else {
			if err := clock.Observe(d.Envelope.Lamport); err != nil {
				return err
			}
			rec, err := trail.AppendEnvelope(d.Envelope, clock.Now())
			if err != nil && !errors.Is(err, audit.ErrDuplicate) {
				return err
			}
			res.Accepted++
			step("receive: seq %d %s %s from %s… accepted; audit line %d of thread %s", d.Seq, d.Envelope.Verb, short(d.Envelope.ID), d.Envelope.SenderPK[:12], rec.Seq, short(d.Envelope.Thread()))
		}
		if err := d.Ack(ctx); err != nil {
			return err
		}
	}
	pending, err := cons.Pending(ctx)
	if err != nil {
		return err
	}
	if pending != 0 {
		return fmt.Errorf("receive: %d messages still pending after the flow", pending)
	}
	step("receive: all %d messages recorded and acknowledged; nothing pending", res.Published)
	return nil
}

// checkCapability fetches the sender's token from the CAS and checks that it
// authorises the envelope.
func checkCapability(ctx context.Context, store cas.Store, roots envelope.Roots, e *envelope.Envelope) error {
	if e.Capability == "" {
		return envelope.Reject(envelope.CodeBadCapability, "capability", "no capability token")
	}
	text, err := store.Get(ctx, e.Capability)
	if errors.Is(err, cas.ErrNotFound) || errors.Is(err, cas.ErrCorrupt) {
		return envelope.Reject(envelope.CodeBadCapability, "capability", "%v", err)
	}
	if err != nil {
		return err
	}
	tok, err := envelope.ParseToken(text)
	if err != nil {
		return err
	}
	return envelope.CheckToken(tok, e, roots)
}

// forge returns e's wire text with the bid's price edited after signing.
func forge(e *envelope.Envelope) ([]byte, error) {
	var m map[string]any
	if err := json.Unmarshal(e.Wire(), &m); err != nil {
		return nil, err
	}
	m["payload"].(map[string]any)["bid"].(map[string]any)["price"] = 0
	return json.Marshal(m)
}

// check holds the run to what the flow must show.
func (r *Result) check() error {
	switch {
	case r.Published != 5 || r.Duplicates != 1:
		return fmt.Errorf("demo: %d messages stored and %d duplicates, want 5 and 1", r.Published, r.Duplicates)
	case r.Accepted != 3:
		return fmt.Errorf("demo: %d accepted, want 3 (the NEED and two bids)", r.Accepted)
	case r.Rejected[envelope.CodeUnauthorized] != 1 || r.Rejected[envelope.CodePayloadHashMismatch] != 1:
		return fmt.Errorf("demo: rejections %v, want one unauthorized and one payload_hash_mismatch", r.Rejected)
	}
	for _, h := range r.Report.Heads {
		if h.Thread == r.Need {
			if h.Seq != 5 {
				return fmt.Errorf("demo: the NEED's thread holds %d records, want 5", h.Seq)
			}
			return nil
		}
	}
	return fmt.Errorf("demo: the trail has no thread for the NEED %s", r.Need)
}

func short(id string) string {
	if len(id) > 19 {
		return id[:19] + "…"
	}
	return id
}
