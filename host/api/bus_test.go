package api_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/canswarm/swarmhost/abi/envelope"
	"github.com/canswarm/swarmhost/host/api"
	"github.com/canswarm/swarmhost/host/bus"
	"github.com/canswarm/swarmhost/host/protocol"
)

// bookNeeds is a node's NEED routes kept in a map: what api needs of a
// node, for the routes' own tests (host's TestNeedsOverTheBus runs them
// against a real node).
type bookNeeds struct {
	mu    sync.Mutex
	needs map[string]protocol.ThreadInfo
	ended chan string // a NEED id sent here ends it
	// unread are NEEDs on the bus the node has not read yet: CatchUp
	// takes them in, unless behind says why it cannot.
	unread map[string]protocol.ThreadInfo
	behind error
	// stuck, when set, holds every CatchUp until it is closed or its
	// context ends; stuckCount counts those it holds.
	stuck      chan struct{}
	stuckCount atomic.Int32
}

func (b *bookNeeds) CatchUp(ctx context.Context) error {
	if b.stuck != nil {
		b.stuckCount.Add(1)
		defer b.stuckCount.Add(-1)
		select {
		case <-b.stuck:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.behind != nil {
		return b.behind
	}
	for id, info := range b.unread {
		b.needs[id] = info
		delete(b.unread, id)
	}
	return nil
}

func (b *bookNeeds) Submit(_ context.Context, req api.NeedRequest) (string, error) {
	if req.Capability == "" {
		return "", errors.New("a NEED names a capability (a task kind)")
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	id := fmt.Sprintf("sha256:%064x", len(b.needs)+1)
	b.needs[id] = protocol.ThreadInfo{ID: id, Phase: protocol.PhaseOpen, Epoch: 1, Capability: req.Capability}
	return id, nil
}

func (b *bookNeeds) Need(id string) (protocol.ThreadInfo, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	info, ok := b.needs[id]
	return info, ok
}

func (b *bookNeeds) Wait(ctx context.Context, id string) (protocol.ThreadInfo, error) {
	select {
	case <-ctx.Done():
		return protocol.ThreadInfo{}, ctx.Err()
	case ended := <-b.ended:
		b.mu.Lock()
		defer b.mu.Unlock()
		info := b.needs[ended]
		info.Phase, info.Result = protocol.PhaseFinal, "sha256:"+strings.Repeat("0", 64)
		b.needs[ended] = info
		return info, nil
	}
}

func (b *bookNeeds) Needs(q api.NeedQuery) api.NeedList {
	b.mu.Lock()
	defer b.mu.Unlock()
	var list api.NeedList
	for _, info := range b.needs {
		if q.Keeps(info.Phase) {
			list.Needs = append(list.Needs, api.SummaryOf(info))
		}
	}
	return list
}

// busClient starts an embedded NATS server, serves needs on one
// connection and returns a client on another.
func busClient(t *testing.T, needs api.Needs) (*api.BusClient, *api.BusServer) {
	t.Helper()
	emb, err := bus.StartEmbedded(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(emb.Shutdown)
	served, err := nats.Connect(emb.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(served.Close)
	srv, err := api.ServeOnBus(served, needs)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	nc, err := nats.Connect(emb.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return &api.BusClient{NC: nc}, srv
}

// busWithANeed is busClient over a bookNeeds with one NEED submitted.
func busWithANeed(t *testing.T) (*bookNeeds, *api.BusClient, *api.BusServer, string) {
	t.Helper()
	needs := &bookNeeds{needs: map[string]protocol.ThreadInfo{}, ended: make(chan string)}
	c, srv := busClient(t, needs)
	id, err := c.SubmitNeed(t.Context(), api.NeedRequest{Capability: "classify"})
	if err != nil {
		t.Fatal(err)
	}
	return needs, c, srv, id
}

// The NEED routes on the bus answer as the HTTP ones do: a submitted NEED
// is shown and listed, a wait is answered when the NEED ends (while other
// requests are answered meanwhile), and bad requests get the reason.
func TestNeedRoutesOnTheBus(t *testing.T) {
	needs := &bookNeeds{needs: map[string]protocol.ThreadInfo{}, ended: make(chan string)}
	c, _ := busClient(t, needs)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	id, err := c.SubmitNeed(ctx, api.NeedRequest{Capability: "classify"})
	if err != nil {
		t.Fatal(err)
	}
	if info, err := c.ShowNeed(ctx, id, false); err != nil || info.ID != id || info.Phase != protocol.PhaseOpen {
		t.Fatalf("show %s: %+v %v", id, info, err)
	}
	waited := waitFinal(ctx, c, id)
	// While one request waits, others are answered, on the same route
	// too (its handler answers the wait on another goroutine).
	time.Sleep(100 * time.Millisecond)
	quick, cancelQuick := context.WithTimeout(ctx, 3*time.Second)
	if info, err := c.ShowNeed(quick, id, false); err != nil || info.ID != id {
		t.Fatalf("show while a wait is open: %+v %v", info, err)
	}
	cancelQuick()
	if list, err := c.ListNeeds(ctx, api.NeedQuery{State: "active", Limit: 10}); err != nil || len(list.Needs) != 1 || list.Needs[0].ID != id {
		t.Fatalf("list while a wait is open: %+v %v", list, err)
	}
	select {
	case err := <-waited:
		t.Fatalf("the wait answered before the NEED ended: %v", err)
	default:
	}
	needs.ended <- id
	if err := <-waited; err != nil {
		t.Fatal(err)
	}

	for _, c2 := range []struct {
		name string
		err  error
		want string
	}{
		{"a NEED without a capability", func() error { _, err := c.SubmitNeed(ctx, api.NeedRequest{}); return err }(), "names a capability"},
		{"an unknown NEED", func() error { _, err := c.ShowNeed(ctx, "sha256:"+strings.Repeat("f", 64), false); return err }(), "no NEED sha256:fff"},
		{"a wait for an unknown NEED", func() error { _, err := c.ShowNeed(ctx, "sha256:"+strings.Repeat("f", 64), true); return err }(), "no NEED sha256:fff"},
		{"an id that is no ref", func() error { _, err := c.ShowNeed(ctx, "nope", false); return err }(), `id "nope": want a NEED id`},
		{"an unknown state", func() error { _, err := c.ListNeeds(ctx, api.NeedQuery{State: "sleepy", Limit: 1}); return err }(), `state "sleepy"`},
	} {
		if c2.err == nil || !strings.Contains(c2.err.Error(), c2.want) {
			t.Errorf("%s: %v, want an error saying %q", c2.name, c2.err, c2.want)
		}
	}
}

// A request larger than the server's largest message is refused before it
// is sent, naming the way to pass a large input; with no node serving,
// the client says so.
func TestBusClientSaysWhatIsWrong(t *testing.T) {
	needs := &bookNeeds{needs: map[string]protocol.ThreadInfo{}, ended: make(chan string)}
	c, _ := busClient(t, needs)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	big := make([]byte, c.NC.MaxPayload()+1)
	for i := range big {
		big[i] = '1'
	}
	if _, err := c.SubmitNeed(ctx, api.NeedRequest{Capability: "classify", Input: big}); err == nil ||
		!strings.Contains(err.Error(), "over the NATS server's largest message") || !strings.Contains(err.Error(), "--input-ref") {
		t.Fatalf("a request over the largest message: %v", err)
	}
	// A NATS server no node serves on.
	emb, err := bus.StartEmbedded(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer emb.Shutdown()
	nc, err := nats.Connect(emb.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	_, err = (&api.BusClient{NC: nc}).SubmitNeed(ctx, api.NeedRequest{Capability: "classify"})
	if !errors.Is(err, api.ErrNoNodeOnBus) || !strings.Contains(err.Error(), "--nats-url") {
		t.Fatalf("no node serving: %v", err)
	}
}

// A node that stops answers the requests waiting on it "the node is
// stopping" (not the client's own cancellation), and every request after.
func TestBusServerStopsSayingSo(t *testing.T) {
	_, c, srv, id := busWithANeed(t)
	ctx := t.Context()
	waited := make(chan error, 1)
	go func() {
		_, err := c.ShowNeed(ctx, id, true)
		waited <- err
	}()
	time.Sleep(100 * time.Millisecond)
	srv.Close()
	if err := <-waited; err == nil || !strings.Contains(err.Error(), "the node is stopping") {
		t.Fatalf("a wait cut short by the node's stop: %v", err)
	}
}

// An answer larger than the server's largest message is refused saying
// so, not left for the client to time out on.
func TestBusAnswerOverTheLargestMessage(t *testing.T) {
	needs, c, _, id := busWithANeed(t)
	ctx := t.Context()
	needs.mu.Lock()
	info := needs.needs[id]
	info.Refusal = strings.Repeat("why ", int(c.NC.MaxPayload()/4)+1)
	needs.needs[id] = info
	needs.mu.Unlock()
	if _, err := c.ShowNeed(ctx, id, false); err == nil || !strings.Contains(err.Error(), "over the NATS server's largest message") {
		t.Fatalf("an answer over the largest message: %v", err)
	}
}

// Any bytes sent to a route: an error that says why, or a request the
// route can act on (a show names a NEED id, a list passes its checks, a
// submit's JSON round-trips); never a panic.
func FuzzBusRequests(f *testing.F) {
	for _, seed := range []string{`{"id":"sha256:` + strings.Repeat("a", 64) + `","wait":true}`, `{"state":"final","limit":3}`,
		`{"capability":"classify","input":["a"],"k":1,"n":1,"input_ref":"sha256:` + strings.Repeat("0", 64) + `"}`,
		``, `null`, `{"limit":-1}`, `{"id":1}`, `[]`} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if req, err := api.ParseBusShow(data); err == nil && !envelope.IsRef(req.ID) {
			t.Fatalf("show accepted id %q", req.ID)
		} else if err != nil && err.Error() == "" {
			t.Fatal("show: an error that says nothing")
		}
		if q, err := api.ParseBusList(data); err == nil {
			if cerr := q.Check(); cerr != nil {
				t.Fatalf("list accepted %+v, which fails its checks: %v", q, cerr)
			}
		} else if err.Error() == "" {
			t.Fatal("list: an error that says nothing")
		}
		if req, err := api.ParseBusSubmit(data); err == nil {
			again, err := json.Marshal(req)
			if err != nil {
				t.Fatalf("submit accepted %q, which does not encode again: %v", data, err)
			}
			if back, err := api.ParseBusSubmit(again); err != nil || back.Capability != req.Capability || back.InputRef != req.InputRef {
				t.Fatalf("submit %q: encoded again as %s, read back as %+v, %v", data, again, back, err)
			}
		}
	})
}

// A node asked for a NEED it does not know yet (submitted through another
// node, not yet read off the bus) catches up with the bus first: show and
// list then find it. A node that cannot catch up answers 404 saying so, and
// its list page says it may lack NEEDs.
func TestShowAndListCatchUpWithTheBus(t *testing.T) {
	needs := &bookNeeds{needs: map[string]protocol.ThreadInfo{}, ended: make(chan string), unread: map[string]protocol.ThreadInfo{}}
	c, _ := busClient(t, needs)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	elsewhere := func(n int) string {
		id := fmt.Sprintf("sha256:%064x", 1000+n)
		needs.mu.Lock()
		needs.unread[id] = protocol.ThreadInfo{ID: id, Phase: protocol.PhaseOpen, Epoch: 1, Capability: "classify"}
		needs.mu.Unlock()
		return id
	}
	id := elsewhere(1)
	if info, err := c.ShowNeed(ctx, id, false); err != nil || info.ID != id {
		t.Fatalf("show of a NEED on the bus not yet read: %+v %v", info, err)
	}
	id2 := elsewhere(2)
	if list, err := c.ListNeeds(ctx, api.NeedQuery{Limit: 10}); err != nil || len(list.Needs) != 2 || list.Behind != "" {
		t.Fatalf("list with a NEED on the bus not yet read (%s): %+v %v", id2, list, err)
	}
	unknown := "sha256:" + strings.Repeat("e", 64)
	if _, err := c.ShowNeed(ctx, unknown, false); err == nil || !strings.Contains(err.Error(), "has taken in everything the bus held") {
		t.Fatalf("show of a NEED no one submitted: %v", err)
	}

	needs.mu.Lock()
	needs.behind = errors.New("stepped up to message 3 of the stream, which held 9")
	needs.mu.Unlock()
	id3 := elsewhere(3)
	if _, err := c.ShowNeed(ctx, id3, false); err == nil || !strings.Contains(err.Error(), "has not yet taken in everything the bus holds") ||
		!strings.Contains(err.Error(), "message 3 of the stream") {
		t.Fatalf("show on a node that cannot catch up: %v", err)
	}
	if list, err := c.ListNeeds(ctx, api.NeedQuery{Limit: 10}); err != nil || len(list.Needs) != 2 || !strings.Contains(list.Behind, "message 3") {
		t.Fatalf("list on a node that cannot catch up: %+v %v", list, err)
	}
	// A wait on such a node waits (the NEED may be on its way), and is
	// answered when the NEED ends.
	waited := waitFinal(ctx, c, id3)
	select {
	case err := <-waited:
		t.Fatalf("a wait on a node behind the bus answered before the NEED ended: %v", err)
	case <-time.After(stillWaiting):
	}
	needs.mu.Lock()
	needs.needs[id3] = needs.unread[id3]
	needs.mu.Unlock()
	needs.ended <- id3
	if err := <-waited; err != nil {
		t.Fatal(err)
	}
}

// stillWaiting is how long a test gives a request that should be waiting
// to answer wrongly: longer than a catch-up that fails at once.
const stillWaiting = 300 * time.Millisecond

// At most MaxCatchUps requests wait at once for the node to catch up: one
// more is answered at once, saying so, not queued behind them.
func TestCatchUpsAreBounded(t *testing.T) {
	needs := &bookNeeds{needs: map[string]protocol.ThreadInfo{}, ended: make(chan string), stuck: make(chan struct{})}
	c, _ := busClient(t, needs)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	unknown := "sha256:" + strings.Repeat("e", 64)
	waiting := make(chan error, api.MaxCatchUps)
	for range api.MaxCatchUps {
		go func() { _, err := c.ShowNeed(ctx, unknown, false); waiting <- err }()
	}
	for needs.stuckCount.Load() < api.MaxCatchUps {
		if ctx.Err() != nil {
			t.Fatalf("%d of %d shows of an unknown NEED wait for the node to catch up", needs.stuckCount.Load(), api.MaxCatchUps)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if _, err := c.ShowNeed(ctx, unknown, false); err == nil || !strings.Contains(err.Error(), "requests are waiting for this node to catch up already") {
		t.Fatalf("with %d shows waiting, one more: %v", api.MaxCatchUps, err)
	}
	close(needs.stuck)
	for range api.MaxCatchUps {
		if err := <-waiting; err == nil || !strings.Contains(err.Error(), "has taken in everything the bus held") {
			t.Fatalf("a show that waited: %v", err)
		}
	}
}

// waitFinal asks c to show the NEED id once it ends, on a goroutine of its
// own; the channel says nil when it was answered final, or why not.
func waitFinal(ctx context.Context, c *api.BusClient, id string) <-chan error {
	waited := make(chan error, 1)
	go func() {
		info, err := c.ShowNeed(ctx, id, true)
		if err == nil && info.Phase != protocol.PhaseFinal {
			err = fmt.Errorf("the wait answered %s", info.Phase)
		}
		waited <- err
	}()
	return waited
}
