package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/canswarm/swarmhost/abi/envelope"
	"github.com/canswarm/swarmhost/consensus"
	"github.com/canswarm/swarmhost/consensus/shard"
	"github.com/canswarm/swarmhost/host/protocol"
)

// Consensus is what the API needs of the consensus node (*consensus.Node).
type Consensus interface {
	Status(ctx context.Context) (consensus.Status, error)
	Get(ctx context.Context, need string) (rec shard.Record, found, collected bool, err error)
	ProposeBytes(ctx context.Context, cmd []byte) (shard.Result, error)
	AddHost(ctx context.Context, replicaID uint64, raftAddress string) error
	RemoveHost(ctx context.Context, replicaID uint64) error
}

var _ Consensus = (*consensus.Node)(nil)

// NeedAnswer is the answer of GET /v1/consensus/needs/{need}.
type NeedAnswer struct {
	Found     bool          `json:"found"`
	Collected bool          `json:"collected"`
	Record    *shard.Record `json:"record"`
}

// Member names a host for POST /v1/consensus/members.
type Member struct {
	ReplicaID   uint64 `json:"replica_id"`
	RaftAddress string `json:"raft_address"`
}

// Server serves the API.
type Server struct {
	Consensus Consensus
	Needs     Needs // nil: the NEED routes answer 503
	// Metrics, when set, serves GET /metrics (the Prometheus text format).
	Metrics http.Handler
	// Health, when set, answers GET /healthz: nil is healthy (200
	// {"status":"ok"}), an error says why not (503 {"error"}).
	Health func() error
	// ObserveOnly serves GET /metrics and /healthz alone, which change
	// nothing and may listen on any address (a scraper on another
	// machine); the full API listens on loopback only.
	ObserveOnly bool
	// RequestTimeout bounds one request's work (default 30 s).
	RequestTimeout time.Duration

	http  *http.Server
	ln    net.Listener
	slots catchUps // the requests waiting for the node to catch up
}

// Listen binds addr ("127.0.0.1:0" picks a free port) and starts serving.
// The API has no authentication, so addr must be a loopback address
// (CheckLoopback) unless the server is ObserveOnly.
func (s *Server) Listen(addr string) error {
	if s.RequestTimeout == 0 {
		s.RequestTimeout = 30 * time.Second
	}
	s.slots = newCatchUps()
	if !s.ObserveOnly {
		if err := CheckLoopback(addr); err != nil {
			return err
		}
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("api: listening on %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	if s.ObserveOnly {
		// Only what reads the node's health and counters.
	} else if s.Consensus != nil {
		mux.HandleFunc("GET /v1/consensus/status", s.status)
		mux.HandleFunc("GET /v1/consensus/needs/{need}", s.need)
		mux.HandleFunc("POST /v1/consensus/propose", s.propose)
		mux.HandleFunc("POST /v1/consensus/members", s.addMember)
		mux.HandleFunc("DELETE /v1/consensus/members/{id}", s.removeMember)
	}
	if s.Needs != nil && !s.ObserveOnly {
		mux.HandleFunc("POST /v1/needs", s.submitNeed)
		mux.HandleFunc("GET /v1/needs/{need}", s.showNeed)
		mux.HandleFunc("GET /v1/needs", s.listNeeds)
	}
	if s.Metrics != nil {
		mux.Handle("GET /metrics", s.Metrics)
	}
	if s.Health != nil {
		mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
			if err := s.Health(); err != nil {
				// 410 for a host removed from the cluster: a restart does
				// not help it (a probe that restarts on 503 would loop).
				status := http.StatusServiceUnavailable
				if errors.Is(err, consensus.ErrRemoved) {
					status = http.StatusGone
				}
				writeError(w, status, err)
				return
			}
			writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
		})
	}
	s.ln = ln
	s.http = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go s.http.Serve(ln)
	return nil
}

// CheckLoopback refuses an address the API would serve beyond this
// machine: its host must be a loopback IP (127.0.0.0/8, ::1) or
// "localhost". The API has no authentication (it takes NEEDs, proposes to
// the shards, adds and removes hosts): reaching it from elsewhere takes a
// proxy that authenticates.
func CheckLoopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("api: address %q: %w", addr, err)
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("api: address %q: the API has no authentication and listens on loopback only "+
		"(127.0.0.1, ::1 or localhost); --metrics-addr serves /metrics and /healthz on any address, "+
		"and a proxy that authenticates can front the rest", addr)
}

// URL is the base URL the server answers on.
func (s *Server) URL() string { return "http://" + s.ln.Addr().String() }

// Close stops serving.
func (s *Server) Close() error {
	if s.http == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return s.http.Shutdown(ctx)
}

func (s *Server) ctx(r *http.Request) (context.Context, context.CancelFunc) {
	return context.WithTimeout(r.Context(), s.RequestTimeout)
}

func (s *Server) status(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := s.ctx(r)
	defer cancel()
	st, err := s.Consensus.Status(ctx)
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, err)
		return
	}
	writeJSON(w, http.StatusOK, st)
}

func (s *Server) need(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := s.ctx(r)
	defer cancel()
	need := r.PathValue("need")
	if !envelope.IsRef(need) {
		writeError(w, http.StatusBadRequest, fmt.Errorf("need %q: not a NEED id (sha256:<64 hex>)", need))
		return
	}
	rec, found, collected, err := s.Consensus.Get(ctx, need)
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, err)
		return
	}
	a := NeedAnswer{Found: found, Collected: collected}
	if found {
		a.Record = &rec
	}
	writeJSON(w, http.StatusOK, a)
}

func (s *Server) propose(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := s.ctx(r)
	defer cancel()
	body, err := io.ReadAll(io.LimitReader(r.Body, shard.MaxCommandBytes+1))
	if err != nil {
		writeError(w, http.StatusBadRequest, err)
		return
	}
	res, err := s.Consensus.ProposeBytes(ctx, body)
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, err)
		return
	}
	writeJSON(w, http.StatusOK, res)
}

func (s *Server) addMember(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := s.ctx(r)
	defer cancel()
	var m Member
	if err := json.NewDecoder(io.LimitReader(r.Body, 4096)).Decode(&m); err != nil || m.ReplicaID == 0 || m.RaftAddress == "" {
		writeError(w, http.StatusBadRequest, fmt.Errorf("want {\"replica_id\": N, \"raft_address\": \"host:port\"} (%v)", err))
		return
	}
	if err := s.Consensus.AddHost(ctx, m.ReplicaID, m.RaftAddress); err != nil {
		writeError(w, http.StatusServiceUnavailable, err)
		return
	}
	writeJSON(w, http.StatusOK, m)
}

func (s *Server) removeMember(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := s.ctx(r)
	defer cancel()
	id, err := strconv.ParseUint(r.PathValue("id"), 10, 64)
	if err != nil || id == 0 {
		writeError(w, http.StatusBadRequest, fmt.Errorf("member id %q: not a positive integer", r.PathValue("id")))
		return
	}
	if err := s.Consensus.RemoveHost(ctx, id); err != nil {
		writeError(w, http.StatusServiceUnavailable, err)
		return
	}
	writeJSON(w, http.StatusOK, Member{ReplicaID: id})
}

type errorBody struct {
	Error string `json:"error"`
}

func writeError(w http.ResponseWriter, status int, err error) {
	writeJSON(w, status, errorBody{Error: err.Error()})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"error":"encoding the answer failed"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}

// errorOf reads an error body.
func errorOf(status int, body []byte) error {
	var eb errorBody
	if json.Unmarshal(body, &eb) == nil && eb.Error != "" {
		return errors.New(eb.Error)
	}
	return fmt.Errorf("HTTP %d: %s", status, body)
}

// Needs is what the API needs of the node to take and show NEEDs (*host.Host).
type Needs interface {
	Submit(ctx context.Context, req NeedRequest) (string, error)
	Need(id string) (protocol.ThreadInfo, bool)
	Wait(ctx context.Context, id string) (protocol.ThreadInfo, error)
	// Needs lists the NEEDs the node knows whose state q.State names,
	// by id, after q.After, at most q.Limit of them.
	Needs(q NeedQuery) NeedList
	// CatchUp returns once the node has taken in every envelope the bus
	// held when it was called (a NEED submitted through another node is
	// then known here), or why it stopped waiting (ctx ended).
	CatchUp(ctx context.Context) error
}

// CatchUpLongest is how long a show of a NEED the node does not know, or a
// list, waits for the node to take in what the bus held when it was asked:
// in a swarm, the node answering may not yet have read a NEED another node
// just submitted.
const CatchUpLongest = 5 * time.Second

// MaxCatchUps bounds the shows and lists waiting at once for the node to
// catch up with the bus (each costs a JetStream API call and a goroutine,
// and the routes are as open as the NATS server): one more is answered at
// once, as far as the node has read, saying so.
const MaxCatchUps = 64

var (
	// errNotKnown is a show's answer for a NEED the node does not know
	// once it has caught up; errNotKnownYet for one it does not know and
	// could not catch up to look for.
	errNotKnown       = errors.New("not known to this node")
	errNotKnownYet    = errors.New("not known to this node yet")
	errTooManyWaiting = fmt.Errorf("%d requests are waiting for this node to catch up already", MaxCatchUps)
)

// catchUps bounds the requests of one server waiting for its node to
// catch up (MaxCatchUps).
type catchUps chan struct{}

func newCatchUps() catchUps { return make(catchUps, MaxCatchUps) }

// catchUp waits, at most CatchUpLongest, for the node to catch up with the
// bus, unless MaxCatchUps requests wait already.
func (slots catchUps) catchUp(ctx context.Context, needs Needs) error {
	select {
	case slots <- struct{}{}:
		defer func() { <-slots }()
	default:
		return errTooManyWaiting
	}
	ctx, cancel := context.WithTimeout(ctx, CatchUpLongest)
	defer cancel()
	return needs.CatchUp(ctx)
}

// needCaughtUp is id's thread as the node holds it; a NEED the node does
// not know is looked up again once the node has caught up with the bus
// (at most CatchUpLongest), and is then errNotKnown, or errNotKnownYet
// when the node could not catch up (behind, or too many waiting).
func (slots catchUps) needCaughtUp(ctx context.Context, needs Needs, id string) (protocol.ThreadInfo, error) {
	if info, ok := needs.Need(id); ok {
		return info, nil
	}
	err := slots.catchUp(ctx, needs)
	if info, ok := needs.Need(id); ok {
		return info, nil
	}
	if err != nil {
		return protocol.ThreadInfo{}, fmt.Errorf("no NEED %s is known to this node, which has not yet taken in everything the bus holds (%v): ask again, or ask another node: %w",
			id, err, errNotKnownYet)
	}
	return protocol.ThreadInfo{}, fmt.Errorf("no NEED %s is known to this node, which has taken in everything the bus held when asked: %w", id, errNotKnown)
}

// needsCaughtUp is a page of the NEEDs the node knows once it has caught up
// with the bus (at most CatchUpLongest); if it could not, the page says so
// (NeedList.Behind) and holds what the node knows.
func (slots catchUps) needsCaughtUp(ctx context.Context, needs Needs, q NeedQuery) NeedList {
	err := slots.catchUp(ctx, needs)
	list := needs.Needs(q)
	if err != nil {
		list.Behind = err.Error()
	}
	return list
}

// NeedQuery asks GET /v1/needs for a page of the NEEDs a node knows.
type NeedQuery struct {
	// State is a thread state (protocol.Phase: admitting, open, decided,
	// claimed, committed, final, abandoned, refused, unknown), or "active"
	// (not ended) or "ended" (final, abandoned or refused); "" for all.
	State string
	After string // only ids after this one (the previous page's Next)
	Limit int    // at most this many (1 to MaxNeedsPage)
}

// MaxNeedsPage is the most NEEDs one GET /v1/needs answers with (and its
// default).
const MaxNeedsPage = 1000

// NeedList is the answer of GET /v1/needs: the NEEDs in id order, and
// the id to ask after for the next page ("" when this is the last).
type NeedList struct {
	Needs []NeedSummary `json:"needs"`
	Next  string        `json:"next,omitempty"`
	// Behind, when set, says why the node answered before it had taken in
	// everything the bus held when asked: NEEDs submitted through other
	// nodes just before may be missing from the page.
	Behind string `json:"behind,omitempty"`
}

// NeedSummary is a NEED in a list: where it stands and how it ended
// (GET /v1/needs/{need} has the rest: its decision and envelopes).
type NeedSummary struct {
	ID         string         `json:"id"`
	State      protocol.Phase `json:"state"`
	Epoch      uint64         `json:"epoch"`
	Capability string         `json:"capability,omitempty"`
	Result     string         `json:"result,omitempty"`
	Finalize   string         `json:"finalize,omitempty"`
	Refusal    string         `json:"refusal,omitempty"`
	Abandoned  string         `json:"abandoned,omitempty"`
	Retired    bool           `json:"retired,omitempty"`
}

// SummaryOf is a thread's NeedSummary.
func SummaryOf(info protocol.ThreadInfo) NeedSummary {
	return NeedSummary{ID: info.ID, State: info.Phase, Epoch: info.Epoch, Capability: info.Capability, Result: info.Result,
		Finalize: info.Finalize, Refusal: info.Refusal, Abandoned: info.Abandoned, Retired: info.Retired}
}

// NeedStates are the values NeedQuery.State takes besides "".
var NeedStates = []string{"active", "ended", string(protocol.PhaseAdmitting), string(protocol.PhaseOpen),
	string(protocol.PhaseDecided), string(protocol.PhaseClaimed), string(protocol.PhaseCommitted),
	string(protocol.PhaseFinal), string(protocol.PhaseAbandoned), string(protocol.PhaseRefused),
	string(protocol.PhaseUnknown)}

// Keeps reports whether a NEED in phase is one the query's State names.
func (q NeedQuery) Keeps(phase protocol.Phase) bool {
	ended := phase == protocol.PhaseFinal || phase == protocol.PhaseAbandoned || phase == protocol.PhaseRefused
	switch q.State {
	case "":
		return true
	case "active":
		return !ended
	case "ended":
		return ended
	}
	return string(phase) == q.State
}

// Check says what is wrong with the query, if anything.
func (q NeedQuery) Check() error {
	if q.State != "" && !slices.Contains(NeedStates, q.State) {
		return fmt.Errorf("state %q: want one of %s", q.State, strings.Join(NeedStates, ", "))
	}
	if q.After != "" && !envelope.IsRef(q.After) {
		return fmt.Errorf("after %q: want a NEED id, sha256:<64 hex>", q.After)
	}
	if q.Limit < 1 || q.Limit > MaxNeedsPage {
		return fmt.Errorf("limit %d: want 1 to %d", q.Limit, MaxNeedsPage)
	}
	return nil
}

func (s *Server) listNeeds(w http.ResponseWriter, r *http.Request) {
	v := r.URL.Query()
	q := NeedQuery{State: v.Get("state"), After: v.Get("after"), Limit: MaxNeedsPage}
	if l := v.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil {
			writeError(w, http.StatusBadRequest, fmt.Errorf("limit %q: want a number", l))
			return
		}
		q.Limit = n
	}
	if err := q.Check(); err != nil {
		writeError(w, http.StatusBadRequest, err)
		return
	}
	writeJSON(w, http.StatusOK, s.slots.needsCaughtUp(r.Context(), s.Needs, q))
}

// MaxNeedRequestBytes bounds the body of POST /v1/needs: an input as
// large as the CAS's largest blob (cas.MaxBlobBytes, 64 MiB), where the
// node puts any input over 16 KiB, and the request's other fields.
const MaxNeedRequestBytes = 65 << 20

// NeedRequest is the body of POST /v1/needs: the NEED's payload fields
// (PROTOCOL.md section 5); Input is the task's input (JSON).
type NeedRequest struct {
	Capability  string          `json:"capability"`
	Input       json.RawMessage `json:"input,omitempty"`
	K           uint64          `json:"k"`
	N           uint64          `json:"n"`
	BidWindowMS uint64          `json:"bid_window_ms"`
	LeaseMS     uint64          `json:"lease_ms"`
	MaxEpochs   uint64          `json:"max_epochs"`
	GasBudget   uint64          `json:"gas_budget"`
	DeadlineMS  uint64          `json:"deadline_ms"`
	Nonce       string          `json:"nonce"`
	Capsule     string          `json:"capsule"`
	// InputInCAS stores the input in the CAS and names it by the NEED's
	// content_refs[0] instead of inline, whatever its size (an input over
	// 16 KiB always goes there). A capsule may bound what it admits inline
	// (the classify capsule: 100 texts of 1,000 characters) and not what
	// the CAS holds.
	InputInCAS bool `json:"input_in_cas"`
	// InputRef names an input already in the node's CAS (`swarmhost
	// --data DIR cas put FILE` on its machine; the NATS object store that
	// the nodes of a cluster, or of an external NATS server, share:
	// `swarmhost --nats-url URL cas put FILE`) instead of
	// Input: the NEED names it by content_refs[0]. A client that reaches
	// the node through the bus sends a large input so, as a NATS message
	// is bounded (1 MiB by default).
	InputRef string `json:"input_ref,omitempty"`
}

func (s *Server) submitNeed(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := s.ctx(r)
	defer cancel()
	var req NeedRequest
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, MaxNeedRequestBytes)).Decode(&req); err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			writeError(w, http.StatusRequestEntityTooLarge, fmt.Errorf("the NEED request is over %d MiB: "+
				"an input goes in one CAS blob, at most 64 MiB", MaxNeedRequestBytes>>20))
			return
		}
		writeError(w, http.StatusBadRequest, fmt.Errorf("the body must be a NEED request: %w", err))
		return
	}
	id, err := s.Needs.Submit(ctx, req)
	if err != nil {
		writeError(w, http.StatusBadRequest, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"id": id})
}

func (s *Server) showNeed(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("need")
	if r.URL.Query().Get("wait") != "" {
		// A NEED no one submitted would be waited for in vain; one the node
		// could not catch up to look for is waited for.
		if _, err := s.slots.needCaughtUp(r.Context(), s.Needs, id); errors.Is(err, errNotKnown) {
			writeError(w, http.StatusNotFound, err)
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), 10*time.Minute)
		defer cancel()
		info, err := s.Needs.Wait(ctx, id)
		if err != nil {
			status := http.StatusServiceUnavailable // the node stopped itself meanwhile
			if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
				status = http.StatusGatewayTimeout
			}
			writeError(w, status, err)
			return
		}
		writeJSON(w, http.StatusOK, info)
		return
	}
	info, err := s.slots.needCaughtUp(r.Context(), s.Needs, id)
	if err != nil {
		writeError(w, http.StatusNotFound, err)
		return
	}
	writeJSON(w, http.StatusOK, info)
}
