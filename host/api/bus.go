package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"

	"github.com/canswarm/swarmhost/abi/envelope"
	"github.com/canswarm/swarmhost/host/protocol"
)

// The NEED routes on the bus: a NATS service (nats.go micro: `nats micro
// ls` lists it) that every node of a swarm serves in one queue group, so a
// client that reaches the swarm only through its NATS server (`swarmhost
// --nats-url URL need ...`) is answered by one of them. Requests and
// answers are the HTTP routes' JSON; an error answer carries the
// Nats-Service-Error headers, with the HTTP status as its code.
const (
	BusService     = "swarmhost"
	BusQueueGroup  = "swarmhost"
	BusSubmitNeed  = "swarmhost.v1.needs.submit" // NeedRequest -> {"id"}
	BusShowNeed    = "swarmhost.v1.needs.show"   // BusShowRequest -> protocol.ThreadInfo
	BusListNeeds   = "swarmhost.v1.needs.list"   // BusListRequest -> NeedList
	busWaitLongest = 10 * time.Minute
)

// BusShowRequest asks BusShowNeed for a thread; Wait answers once it is
// final, abandoned or refused (at most 10 minutes on).
type BusShowRequest struct {
	ID   string `json:"id"`
	Wait bool   `json:"wait,omitempty"`
}

// BusListRequest asks BusListNeeds for a page (NeedQuery; a 0 limit is
// MaxNeedsPage).
type BusListRequest struct {
	State string `json:"state,omitempty"`
	After string `json:"after,omitempty"`
	Limit int    `json:"limit,omitempty"`
}

// BusServer is the NEED routes served on a NATS connection.
type BusServer struct {
	nc   *nats.Conn
	svc  micro.Service
	ctx  context.Context
	stop context.CancelFunc
	wg   sync.WaitGroup // the answers given after their handler returned

	mu     sync.Mutex
	closed bool // no more answers begin (Close)

	slots catchUps // the requests waiting for the node to catch up
}

// ServeOnBus serves needs's routes on nc until Close. Every node of a
// swarm serves them in the same queue group: a request reaches one node.
func ServeOnBus(nc *nats.Conn, needs Needs) (*BusServer, error) {
	svc, err := micro.AddService(nc, micro.Config{Name: BusService, Version: "1.0.0", QueueGroup: BusQueueGroup,
		Description: "a swarmhost node's NEED routes: submit, show, list"})
	if err != nil {
		return nil, fmt.Errorf("api: serving on the bus: %w", err)
	}
	ctx, stop := context.WithCancel(context.Background())
	s := &BusServer{nc: nc, svc: svc, ctx: ctx, stop: stop, slots: newCatchUps()}
	endpoints := []struct {
		name, subject string
		handle        func(micro.Request)
	}{
		{"submit", BusSubmitNeed, func(r micro.Request) { s.submit(r, needs) }},
		{"show", BusShowNeed, func(r micro.Request) { s.show(r, needs) }},
		{"list", BusListNeeds, func(r micro.Request) { s.list(r, needs) }},
	}
	for _, ep := range endpoints {
		if err := svc.AddEndpoint(ep.name, micro.HandlerFunc(ep.handle), micro.WithEndpointSubject(ep.subject)); err != nil {
			s.Close()
			return nil, fmt.Errorf("api: serving %s on the bus: %w", ep.subject, err)
		}
	}
	// The subscriptions reach the server asynchronously: without this
	// round trip a client on another connection could be told "no
	// responders" just after ServeOnBus returned.
	if err := nc.Flush(); err != nil {
		s.Close()
		return nil, fmt.Errorf("api: serving on the bus: %w", err)
	}
	return s, nil
}

// Close stops serving: requests waiting on a NEED are answered 503, "the
// node is stopping", before it returns.
func (s *BusServer) Close() error {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.stop()
	s.wg.Wait()
	return s.svc.Stop()
}

// errStopping answers what the node's stop cut short.
var errStopping = errors.New("the node is stopping: ask another node of the swarm, or again once it is back")

// answer sends a handler's answer, or says why it cannot: an answer over
// the server's largest message would never arrive (the client would wait
// out its timeout).
func (s *BusServer) answer(r micro.Request, answer any) {
	b, err := s.encode(answer)
	if err != nil {
		busError(r, 500, err)
		return
	}
	r.Respond(b)
}

func (s *BusServer) encode(answer any) ([]byte, error) {
	b, err := json.Marshal(answer)
	if err != nil {
		return nil, fmt.Errorf("encoding the answer: %w", err)
	}
	if max := s.nc.MaxPayload(); int64(len(b)) > max {
		return nil, fmt.Errorf("the answer is %d bytes, over the NATS server's largest message (%d): ask for a smaller page (limit), or use the node's HTTP API", len(b), max)
	}
	return b, nil
}

func busError(r micro.Request, status int, err error) {
	r.Error(strconv.Itoa(status), err.Error(), nil)
}

// later answers a request after its handler returned, from another
// goroutine: on the connection itself, as micro.Request.Respond and Error
// would, without touching the request (micro reads it once the handler
// returns). err, when not nil, is the answer, with status as its code.
func (s *BusServer) later(r micro.Request, status int, answer any, err error) {
	msg := &nats.Msg{Subject: r.Reply()}
	if err == nil {
		if msg.Data, err = s.encode(answer); err != nil {
			status = 500
		}
	} else if s.ctx.Err() != nil {
		status, err = 503, errStopping
	}
	if err != nil {
		msg.Header = nats.Header{micro.ErrorHeader: []string{err.Error()}, micro.ErrorCodeHeader: []string{strconv.Itoa(status)}}
		msg.Data = nil
	}
	// A reply that cannot be sent (the connection closing) has no one
	// else to tell: the client's request times out.
	s.nc.PublishMsg(msg)
}

// async runs f beside r's handler, counted for Close; once Close began,
// r is answered 503 instead.
func (s *BusServer) async(r micro.Request, f func()) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		busError(r, 503, errStopping)
		return
	}
	s.wg.Add(1)
	s.mu.Unlock()
	go func() {
		defer s.wg.Done()
		f()
	}()
}

func (s *BusServer) submit(r micro.Request, needs Needs) {
	req, err := ParseBusSubmit(r.Data())
	if err != nil {
		busError(r, 400, err)
		return
	}
	// Submitting publishes on the bus, which this handler must not hold up
	// (the connection delivers the next request after it returns).
	s.async(r, func() {
		ctx, cancel := context.WithTimeout(s.ctx, 30*time.Second)
		defer cancel()
		id, err := needs.Submit(ctx, req)
		s.later(r, 400, map[string]string{"id": id}, err)
	})
}

func (s *BusServer) show(r micro.Request, needs Needs) {
	req, err := ParseBusShow(r.Data())
	if err != nil {
		busError(r, 400, err)
		return
	}
	if !req.Wait {
		if info, ok := needs.Need(req.ID); ok {
			s.answer(r, info)
			return
		}
		// Perhaps submitted through another node just now: looked up
		// again once this node has read the bus as far as it goes.
		s.async(r, func() {
			info, err := s.slots.needCaughtUp(s.ctx, needs, req.ID)
			s.later(r, 404, info, err)
		})
		return
	}
	s.async(r, func() {
		// A NEED no one submitted would be waited for in vain.
		if info, err := s.slots.needCaughtUp(s.ctx, needs, req.ID); errors.Is(err, errNotKnown) {
			s.later(r, 404, info, err)
			return
		}
		ctx, cancel := context.WithTimeout(s.ctx, busWaitLongest)
		defer cancel()
		info, err := needs.Wait(ctx, req.ID)
		status := 503 // the node stopped, or stopped itself
		if errors.Is(err, context.DeadlineExceeded) {
			status = 504
		}
		s.later(r, status, info, err)
	})
}

func (s *BusServer) list(r micro.Request, needs Needs) {
	q, err := ParseBusList(r.Data())
	if err != nil {
		busError(r, 400, err)
		return
	}
	s.async(r, func() { s.later(r, 500, s.slots.needsCaughtUp(s.ctx, needs, q), nil) })
}

// ParseBusSubmit reads a submit request: a NEED request, whose fields the
// node checks as it signs the NEED.
func ParseBusSubmit(data []byte) (NeedRequest, error) {
	var req NeedRequest
	if err := json.Unmarshal(data, &req); err != nil {
		return NeedRequest{}, fmt.Errorf("the request must be a NEED request: %w", err)
	}
	return req, nil
}

// ParseBusShow reads a show request; its id is a NEED id.
func ParseBusShow(data []byte) (BusShowRequest, error) {
	var req BusShowRequest
	if err := json.Unmarshal(data, &req); err != nil {
		return BusShowRequest{}, fmt.Errorf("the request must be {\"id\", \"wait\"}: %w", err)
	}
	if !envelope.IsRef(req.ID) {
		return BusShowRequest{}, fmt.Errorf("id %q: want a NEED id, sha256:<64 hex>", req.ID)
	}
	return req, nil
}

// ParseBusList reads a list request (empty: the first page of every NEED)
// into a query that passes NeedQuery.Check.
func ParseBusList(data []byte) (NeedQuery, error) {
	var req BusListRequest
	if len(data) > 0 {
		if err := json.Unmarshal(data, &req); err != nil {
			return NeedQuery{}, fmt.Errorf("the request must be {\"state\", \"after\", \"limit\"}: %w", err)
		}
	}
	q := NeedQuery{State: req.State, After: req.After, Limit: req.Limit}
	if q.Limit == 0 {
		q.Limit = MaxNeedsPage
	}
	if err := q.Check(); err != nil {
		return NeedQuery{}, err
	}
	return q, nil
}

// BusClient reaches a swarm's nodes through its NATS server.
type BusClient struct {
	NC *nats.Conn
}

// ErrNoNodeOnBus says no node serves the NEED routes on the bus.
var ErrNoNodeOnBus = errors.New("no swarmhost node answers on this NATS server")

func (c *BusClient) call(ctx context.Context, subject string, req, out any) error {
	body, err := json.Marshal(req)
	if err != nil {
		return err
	}
	if max := c.NC.MaxPayload(); int64(len(body)) > max {
		return fmt.Errorf("the request is %d bytes, over the NATS server's largest message (%d): "+
			"put the input in the node's CAS first and name it with --input-ref (on the node's machine 'swarmhost --data DIR cas put FILE'; "+
			"the nodes of a cluster, or of an external NATS server, share the NATS object store: 'swarmhost --nats-url URL cas put FILE')", len(body), max)
	}
	msg, err := c.NC.RequestWithContext(ctx, subject, body)
	switch {
	case errors.Is(err, nats.ErrNoResponders):
		return fmt.Errorf("%w at %s (start one with 'swarmhost --nats-url %s run --plugins DIR')", ErrNoNodeOnBus, c.NC.ConnectedUrlRedacted(), c.NC.ConnectedUrlRedacted())
	case err != nil:
		return fmt.Errorf("api: %s: %w", subject, err)
	}
	if code := msg.Header.Get(micro.ErrorCodeHeader); code != "" {
		return fmt.Errorf("node: %s", msg.Header.Get(micro.ErrorHeader))
	}
	if err := json.Unmarshal(msg.Data, out); err != nil {
		return fmt.Errorf("api: %s: decoding the answer: %w", subject, err)
	}
	return nil
}

// SubmitNeed submits a NEED through whichever node answers; it returns its id.
func (c *BusClient) SubmitNeed(ctx context.Context, req NeedRequest) (string, error) {
	var out struct {
		ID string `json:"id"`
	}
	err := c.call(ctx, BusSubmitNeed, req, &out)
	return out.ID, err
}

// ShowNeed returns a thread's state as the answering node holds it; wait
// blocks until it is final, abandoned or refused.
func (c *BusClient) ShowNeed(ctx context.Context, id string, wait bool) (protocol.ThreadInfo, error) {
	var info protocol.ThreadInfo
	err := c.call(ctx, BusShowNeed, BusShowRequest{ID: id, Wait: wait}, &info)
	return info, err
}

// ListNeeds returns a page of the NEEDs the answering node knows.
func (c *BusClient) ListNeeds(ctx context.Context, q NeedQuery) (NeedList, error) {
	var list NeedList
	err := c.call(ctx, BusListNeeds, BusListRequest{State: q.State, After: q.After, Limit: q.Limit}, &list)
	return list, err
}
