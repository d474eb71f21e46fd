package host_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/canswarm/swarmhost/abi/envelope"
	"github.com/canswarm/swarmhost/host"
	"github.com/canswarm/swarmhost/host/api"
	"github.com/canswarm/swarmhost/host/audit"
	"github.com/canswarm/swarmhost/host/bus"
	"github.com/canswarm/swarmhost/host/cas"
	"github.com/canswarm/swarmhost/host/keys"
	"github.com/canswarm/swarmhost/host/protocol"
)

// A node lists the NEEDs it knows a page at a time, in id order, each
// with its state and how it ended; a state keeps those in it.
func TestNeedsListsAPageAtATime(t *testing.T) {
	h, final := finishedFlow(t, t.TempDir(), host.Config{})
	defer h.Close()
	refused, err := h.Submit(context.Background(), api.NeedRequest{Capability: "classify", Input: items, K: 1, N: 8,
		BidWindowMS: 100, LeaseMS: 10_000, MaxEpochs: 3, DeadlineMS: 60_000, Nonce: "refused"})
	if err != nil {
		t.Fatal(err)
	}
	if info := wait(t, h, refused); info.Phase != protocol.PhaseRefused {
		t.Fatalf("the k=1 n=8 NEED ended %s, want refused by the capsule", info.Phase)
	}
	first, second := min(final, refused), max(final, refused)

	all := h.Needs(api.NeedQuery{Limit: api.MaxNeedsPage})
	if len(all.Needs) != 2 || all.Next != "" || all.Needs[0].ID != first || all.Needs[1].ID != second {
		t.Fatalf("all NEEDs: %+v, want %s then %s and no next page", all, first, second)
	}
	page := h.Needs(api.NeedQuery{Limit: 1})
	if len(page.Needs) != 1 || page.Needs[0].ID != first || page.Next != first {
		t.Fatalf("page 1: %+v, want %s and next %s", page, first, first)
	}
	page = h.Needs(api.NeedQuery{Limit: 1, After: page.Next})
	if len(page.Needs) != 1 || page.Needs[0].ID != second || page.Next != "" {
		t.Fatalf("page 2: %+v, want %s and no next page", page, second)
	}

	for state, want := range map[string]string{"final": final, "refused": refused, "ended": "both", "active": "", "open": ""} {
		got := h.Needs(api.NeedQuery{State: state, Limit: 10})
		switch want {
		case "both":
			if len(got.Needs) != 2 {
				t.Errorf("state %s: %d NEEDs, want 2", state, len(got.Needs))
			}
		case "":
			if len(got.Needs) != 0 {
				t.Errorf("state %s: %+v, want none", state, got.Needs)
			}
		default:
			if len(got.Needs) != 1 || got.Needs[0].ID != want || string(got.Needs[0].State) != state {
				t.Errorf("state %s: %+v, want %s alone", state, got.Needs, want)
			}
		}
	}
	f := h.Needs(api.NeedQuery{State: "final", Limit: 1}).Needs[0]
	if f.Result == "" || f.Finalize == "" || f.Epoch != 1 || f.Capability != "classify" {
		t.Errorf("the final NEED's summary %+v lacks its result, FINALIZE, epoch or capability", f)
	}
	r := h.Needs(api.NeedQuery{State: "refused", Limit: 1}).Needs[0]
	if r.Refusal == "" {
		t.Errorf("the refused NEED's summary %+v does not say why", r)
	}
}

// A query the API cannot answer is refused naming what is wrong.
func TestNeedQueryCheck(t *testing.T) {
	for _, c := range []struct {
		q    api.NeedQuery
		want string
	}{
		{api.NeedQuery{Limit: 1}, ""},
		{api.NeedQuery{State: "active", Limit: api.MaxNeedsPage}, ""},
		{api.NeedQuery{State: "done", Limit: 1}, `state "done": want one of active, ended`},
		{api.NeedQuery{Limit: 0}, "limit 0: want 1 to 1000"},
		{api.NeedQuery{Limit: api.MaxNeedsPage + 1}, "limit 1001: want 1 to 1000"},
		{api.NeedQuery{After: "abc", Limit: 1}, `after "abc": want a NEED id`},
	} {
		err := c.q.Check()
		if (err == nil) != (c.want == "") || err != nil && !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: error %v, want %q", c.q, err, c.want)
		}
	}
}

// An input larger than a CAS blob is refused by Submit, saying so, before
// anything is signed or published.
func TestSubmitRefusesAnInputOverTheCASLimit(t *testing.T) {
	h := openAt(t, t.TempDir(), honest, host.Config{})
	defer h.Close()
	input := make([]byte, cas.MaxBlobBytes+3)
	for i := range input {
		input[i] = 'x'
	}
	input[0], input[len(input)-1] = '"', '"'
	_, err := h.Submit(context.Background(), api.NeedRequest{Capability: "classify", Input: input, K: 1, N: 1, Nonce: "large"})
	if err == nil || !strings.Contains(err.Error(), "a CAS blob is at most 67108864") || !errors.Is(err, cas.ErrTooLarge) {
		t.Fatalf("Submit of a %d-byte input: %v", len(input), err)
	}
}

// A client that reaches the node only through its NATS server submits,
// waits and lists over the bus (the NEED routes every node serves there),
// and names an input already in the node's CAS by ref.
func TestNeedsOverTheBus(t *testing.T) {
	h := node(t, honest)
	nc, err := nats.Connect(h.Bus.Embedded().ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	c := &api.BusClient{NC: nc}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	ref, err := h.CAS.Put(ctx, items)
	if err != nil {
		t.Fatal(err)
	}
	for _, req := range []api.NeedRequest{{Input: items, Nonce: "inline"}, {InputRef: ref, Nonce: "by ref"}} {
		req.Capability, req.K, req.N, req.BidWindowMS, req.LeaseMS, req.MaxEpochs, req.DeadlineMS = "classify", 3, 3, 300, 10_000, 3, 60_000
		id, err := c.SubmitNeed(ctx, req)
		if err != nil {
			t.Fatalf("%s: %v", req.Nonce, err)
		}
		info, err := c.ShowNeed(ctx, id, true)
		if err != nil || info.Phase != protocol.PhaseFinal || info.Finalize == "" {
			t.Fatalf("%s: %+v %v", req.Nonce, info, err)
		}
		// The NEED as the node recorded it: by ref, content_refs[0] names
		// the input; inline, the payload holds it.
		var e *envelope.Envelope
		for _, rec := range trailLines(t, h, id) {
			if rec.Kind == audit.KindEnvelope && e == nil {
				if e, err = envelope.Decode(rec.Envelope); err != nil {
					t.Fatal(err)
				}
			}
		}
		if e == nil || e.Verb != envelope.VerbNeed {
			t.Fatalf("%s: the thread's first envelope is %+v, not its NEED", req.Nonce, e)
		}
		if byRef := req.InputRef != ""; byRef && (len(e.ContentRefs) != 1 || e.ContentRefs[0] != ref) ||
			!byRef && (len(e.ContentRefs) != 0 || !strings.Contains(string(e.Payload), `"input":`)) {
			t.Fatalf("%s: the NEED has content_refs %v and payload %s", req.Nonce, e.ContentRefs, e.Payload)
		}
	}
	list, err := c.ListNeeds(ctx, api.NeedQuery{State: "final", Limit: 10})
	if err != nil || len(list.Needs) != 2 {
		t.Fatalf("list over the bus: %+v %v", list, err)
	}
	if _, err := c.SubmitNeed(ctx, api.NeedRequest{Capability: "classify", InputRef: "sha256:" + strings.Repeat("0", 64)}); err == nil ||
		!strings.Contains(err.Error(), "is not in this node's CAS") {
		t.Fatalf("an input_ref the CAS lacks: %v", err)
	}
}

// A NEED published on the bus by someone other than this node (another
// node of the swarm, or a participant of its own) is known to a show over
// the bus as soon as the stream holds it, however far behind the node's
// reading is: the node catches up with the stream before it says
// "unknown". Here the node reads every delivery up to 2 s late (the chaos
// middleware), and the NEED is asked for the moment it is published (for
// a capability no agent here has: no bids follow, nothing else is on the
// stream).
func TestShowCatchesUpWithTheBus(t *testing.T) {
	dir := t.TempDir()
	// No checkpoints: the stream holds the two NEEDs and nothing else.
	h := openAt(t, dir, honest, host.Config{CheckpointEvery: -1, Chaos: &bus.Chaos{Seed: 7, Delay: 1, MaxDelay: 2 * time.Second}})
	defer h.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	foreignNeed, c := foreignClient(t, h, dir)
	for i := range 2 {
		need := foreignNeed(i)
		if _, err := h.Bus.Publish(ctx, need); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			info, err := c.ShowNeed(ctx, need.ID, false)
			if err != nil || info.ID != need.ID {
				t.Fatalf("show over the bus right after the NEED was published: %+v %v", info, err)
			}
			continue
		}
		if err := h.CatchUp(ctx); err != nil {
			t.Fatal(err)
		}
		if _, ok := h.Need(need.ID); !ok {
			t.Fatal("caught up with the bus, the node does not know the NEED the stream held")
		}
	}
	// A NEED no one published: not known, once caught up, and said so.
	if _, err := c.ShowNeed(ctx, "sha256:"+strings.Repeat("e", 64), false); err == nil ||
		!strings.Contains(err.Error(), "has taken in everything the bus held") {
		t.Fatalf("show of a NEED no one published: %v", err)
	}
	// Started again, the node is caught up at once: as far along the stream
	// as its consumer acknowledged (bus TestRestartResumes), and handed
	// what came after (its own closing CHECKPOINT).
	h.Close()
	h = openAt(t, dir, honest, host.Config{CheckpointEvery: -1})
	defer h.Close()
	quick, cancelQuick := context.WithTimeout(ctx, 3*time.Second)
	defer cancelQuick()
	if err := h.CatchUp(quick); err != nil {
		t.Fatalf("a node started again on its stream: %v", err)
	}
}

// A delivery the node has not stepped holds a catch-up even when later
// ones were stepped: here the chaos middleware drops half the deliveries
// (each delivered again a moment later), six NEEDs are published at once,
// and each is shown right after: none is answered "unknown".
func TestShowCatchesUpPastDroppedDeliveries(t *testing.T) {
	dir := t.TempDir()
	h := openAt(t, dir, honest, host.Config{CheckpointEvery: -1, Chaos: &bus.Chaos{Seed: 3, Drop: 0.5, MaxDelay: 500 * time.Millisecond}})
	defer h.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	foreignNeed, c := foreignClient(t, h, dir)
	var ids []string
	for i := range 6 {
		need := foreignNeed(i)
		if _, err := h.Bus.Publish(ctx, need); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, need.ID)
	}
	for i, id := range ids {
		if info, err := c.ShowNeed(ctx, id, false); err != nil || info.ID != id {
			t.Fatalf("NEED %d, shown right after it was published: %+v %v", i, info, err)
		}
	}
}

// foreignClient returns NEEDs signed by a client key of the node's root
// other than the node's own (for a capability no agent here has: no bids
// follow), and a client of the node's NEED routes on the bus.
func foreignClient(t *testing.T, h *host.Host, dir string) (func(i int) *envelope.Envelope, *api.BusClient) {
	t.Helper()
	ks, err := keys.NewStore(filepath.Join(dir, "keys"), nil)
	if err != nil {
		t.Fatal(err)
	}
	root, err := ks.Ensure("root")
	if err != nil {
		t.Fatal(err)
	}
	client, err := ks.Ensure("someone-else")
	if err != nil {
		t.Fatal(err)
	}
	_, tok, err := keys.IssueAndStore(t.Context(), h.CAS, root, client.Public, []envelope.Role{envelope.RoleClient}, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	nc, err := nats.Connect(h.Bus.Embedded().ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return func(i int) *envelope.Envelope {
		need, err := envelope.Sign(envelope.Draft{Verb: envelope.VerbNeed, Lamport: uint64(i + 1), Capability: tok,
			PolicyCapsuleHash: h.DefaultCapsule(), Payload: map[string]any{"capability": "summarize", "input": []string{"a"},
				"k": 1, "n": 1, "bid_window_ms": 100, "lease_ms": 10_000, "max_epochs": 3, "deadline_ms": 60_000, "nonce": fmt.Sprint(i)}},
			client.Private)
		if err != nil {
			t.Fatal(err)
		}
		return need
	}, &api.BusClient{NC: nc}
}
