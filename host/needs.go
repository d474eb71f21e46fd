package host

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"

	"github.com/canswarm/swarmhost/abi/envelope"
	"github.com/canswarm/swarmhost/host/api"
	"github.com/canswarm/swarmhost/host/audit"
	"github.com/canswarm/swarmhost/host/cas"
	"github.com/canswarm/swarmhost/host/protocol"
)

var _ api.Needs = (*Host)(nil)

// maxInlineInput is the largest input Submit puts in the NEED's payload.
const maxInlineInput = 16 << 10

// GasBudgetFor is the gas budget Submit gives a NEED that names none, by
// the size of its input: none (the node's default for every agent call,
// 50 million) for an input of up to 16 KiB, and beyond that
// GasPerInputByte more per byte. An agent reads its whole input to bid and
// to work, and a verifier evaluates the capsule on it: on 130 KB of texts
// (2,000 of them) the first-party agents' calls used up to 171 million,
// and the node's default ran out at ~30 KB.
func GasBudgetFor(inputBytes int) uint64 {
	if inputBytes <= maxInlineInput {
		return 0
	}
	return protocol.DefaultAgentGas + GasPerInputByte*uint64(inputBytes)
}

// GasPerInputByte is the gas GasBudgetFor allows per byte of a large input.
const GasPerInputByte = 2_000

// Submit signs a NEED with the host's client key and publishes it on the
// bus; the node (every node of a cluster) picks it up from there. An input
// over 16 KiB, or any with req.InputInCAS, is not inline: it goes to the
// CAS and is named by content_refs[0]. A request without a gas budget gets
// GasBudgetFor its input's size.
func (h *Host) Submit(ctx context.Context, req api.NeedRequest) (string, error) {
	if req.Capability == "" {
		return "", fmt.Errorf("a NEED names a capability (a task kind)")
	}
	capsule := req.Capsule
	if capsule == "" {
		capsule = h.capsule
	}
	if !envelope.IsRef(capsule) {
		return "", fmt.Errorf("capsule %q is not a ref", capsule)
	}
	payload := map[string]any{"capability": req.Capability, "k": req.K, "n": req.N, "bid_window_ms": req.BidWindowMS,
		"lease_ms": req.LeaseMS, "max_epochs": req.MaxEpochs, "deadline_ms": req.DeadlineMS, "nonce": req.Nonce}
	if string(bytes.TrimSpace(req.Input)) == "null" {
		req.Input = nil // no input, as a client encoding an empty one writes it
	}
	var refs []string
	if req.InputRef != "" {
		if len(req.Input) > 0 {
			return "", fmt.Errorf("a NEED request names its input inline or by input_ref, not both")
		}
		if !envelope.IsRef(req.InputRef) {
			return "", fmt.Errorf("input_ref %q is not a ref (sha256:<64 hex>)", req.InputRef)
		}
		has, err := h.CAS.Has(ctx, req.InputRef)
		if err != nil {
			return "", fmt.Errorf("looking for input_ref %s in the CAS: %w", req.InputRef, err)
		}
		if !has {
			return "", fmt.Errorf("input_ref %s is not in this node's CAS: put it there first (swarmhost cas put, into the store this node reads: DATA/cas, or a cluster's NATS object store)", req.InputRef)
		}
		refs = []string{req.InputRef}
		if req.GasBudget == 0 {
			// Its size sets the budget: read once here (the agents read
			// it again), which also finds a copy gone corrupt now rather
			// than in every agent call.
			input, err := h.CAS.Get(ctx, req.InputRef)
			if err != nil {
				return "", fmt.Errorf("reading input_ref %s from the CAS: %w", req.InputRef, err)
			}
			req.GasBudget = GasBudgetFor(len(input))
		}
	}
	if req.GasBudget == 0 {
		req.GasBudget = GasBudgetFor(len(req.Input))
	}
	if req.GasBudget > 0 {
		payload["gas_budget"] = req.GasBudget
	}
	if len(req.Input) > 0 {
		if len(req.Input) > maxInlineInput || req.InputInCAS {
			ref, err := h.CAS.Put(ctx, req.Input)
			if errors.Is(err, cas.ErrTooLarge) {
				return "", fmt.Errorf("the input is %d bytes: a CAS blob is at most %d (%w)", len(req.Input), cas.MaxBlobBytes, err)
			}
			if err != nil {
				return "", fmt.Errorf("storing the input: %w", err)
			}
			refs = []string{ref}
		} else {
			payload["input"] = json.RawMessage(req.Input)
		}
	}
	lamport := h.tick(0)
	e, err := envelope.Sign(envelope.Draft{Verb: envelope.VerbNeed, Lamport: lamport, Capability: h.id.clientToken,
		ContentRefs: refs, PolicyCapsuleHash: capsule, Payload: payload}, h.id.client.Private)
	if err != nil {
		return "", err
	}
	if _, err := h.Bus.Publish(ctx, e); err != nil {
		return "", err
	}
	h.metrics.published.WithLabelValues(string(e.Verb)).Inc()
	return e.ID, nil
}

// Need returns a thread's state as the core holds it; a retired thread's
// envelopes, which the core no longer lists, are read from its audit
// trail (the accepted envelope lines, in order).
func (h *Host) Need(id string) (protocol.ThreadInfo, bool) {
	h.mu.Lock()
	info, ok := h.core.Thread(id)
	h.mu.Unlock()
	if !ok {
		return h.rejectedNeed(id)
	}
	if ok && info.Retired && info.Envelopes == nil {
		envs, err := trailEnvelopes(h.Trail.Dir(), id)
		switch {
		case err != nil:
			info.EnvelopesError = fmt.Sprintf("the trail lists %d envelopes of the %d accepted, then: %v", len(envs), info.EnvelopesInTrail, err)
		case len(envs) != info.EnvelopesInTrail:
			info.EnvelopesError = fmt.Sprintf("the trail lists %d accepted envelopes, the core counted %d: run 'swarmhost audit verify'",
				len(envs), info.EnvelopesInTrail)
		}
		if info.EnvelopesError != "" {
			h.log.Warn("need: listing a retired thread's envelopes from its trail", "thread", id, "problem", info.EnvelopesError)
		}
		info.Envelopes = envs
	}
	return info, ok
}

// Needs lists a page of the NEEDs the core knows (api.NeedQuery), in id
// order, each summed up (api.NeedSummary). The threads are chosen under the
// core's lock in one pass over them and sorted outside it, so a node that
// has known many NEEDs is not held up by a listing.
func (h *Host) Needs(q api.NeedQuery) api.NeedList {
	h.mu.Lock()
	ids := h.core.NeedsWhere(func(id string, phase protocol.Phase) bool { return id > q.After && q.Keeps(phase) })
	h.mu.Unlock()
	slices.Sort(ids)
	list := api.NeedList{Needs: []api.NeedSummary{}}
	if q.Limit > 0 && len(ids) > q.Limit {
		ids = ids[:q.Limit]
		list.Next = ids[len(ids)-1]
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, id := range ids {
		if info, ok := h.core.Thread(id); ok {
			list.Needs = append(list.Needs, api.SummaryOf(info))
		}
	}
	return list
}

// trailEnvelopes lists the envelopes a thread's trail accepted, in order.
// A last line still being written (no newline yet) is left out.
func trailEnvelopes(dir, thread string) ([]protocol.EnvelopeSummary, error) {
	out := []protocol.EnvelopeSummary{}
	name, err := audit.FileName(thread)
	if err != nil {
		return out, err
	}
	text, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		return out, err
	}
	for n := 1; len(text) > 0; n++ {
		i := bytes.IndexByte(text, '\n')
		if i < 0 {
			break
		}
		line := text[:i]
		text = text[i+1:]
		rec, err := audit.ParseLine(line)
		if err != nil {
			return out, fmt.Errorf("audit %s line %d: %w", thread, n, err)
		}
		if rec.Kind != audit.KindEnvelope || rec.Verdict != audit.Accepted {
			continue
		}
		var e struct {
			ID      string `json:"id"`
			Verb    string `json:"verb"`
			Lamport uint64 `json:"lamport"`
			Sender  string `json:"sender_pk"`
		}
		if err := json.Unmarshal(rec.Envelope, &e); err != nil {
			return out, fmt.Errorf("audit %s line %d: %w", thread, n, err)
		}
		out = append(out, protocol.EnvelopeSummary{ID: e.ID, Verb: e.Verb, Lamport: e.Lamport, Sender: e.Sender})
	}
	return out, nil
}

// rejectedNeed shows a NEED whose envelope the node rejected on arrival:
// never a thread, but its line is in the trail, in the file of the
// thread the NEED would have opened.
func (h *Host) rejectedNeed(id string) (protocol.ThreadInfo, bool) {
	name, err := audit.FileName(id)
	if err != nil {
		return protocol.ThreadInfo{}, false
	}
	text, err := os.ReadFile(filepath.Join(h.Trail.Dir(), name))
	if err != nil {
		return protocol.ThreadInfo{}, false
	}
	for len(text) > 0 {
		line, rest, _ := bytes.Cut(text, []byte{'\n'})
		text = rest
		rec, err := audit.ParseLine(line)
		if err != nil || rec.Kind != audit.KindEnvelope || rec.Verdict != audit.Rejected {
			continue
		}
		raw, err := audit.DecodeRawText(rec.Envelope) // a rejected text is kept as a string
		if err != nil {
			continue
		}
		var e struct {
			ID   string `json:"id"`
			Verb string `json:"verb"`
		}
		if json.Unmarshal(raw, &e) == nil && e.ID == id && e.Verb == string(envelope.VerbNeed) {
			return protocol.ThreadInfo{ID: id, Phase: protocol.PhaseRejected,
				Refusal: fmt.Sprintf("the NEED envelope was rejected on arrival: %s (the trail records it)", rec.Reason)}, true
		}
	}
	return protocol.ThreadInfo{}, false
}

// Wait blocks until the thread is final (and its FINALIZE envelope is
// in), abandoned or refused, and the trail's lines of that end are
// durable; or ctx ends, or the node stops itself (its error).
func (h *Host) Wait(ctx context.Context, id string) (protocol.ThreadInfo, error) {
	for {
		ch := h.watchers.watch(id)
		info, ok := h.Need(id)
		done := info.Phase == protocol.PhaseAbandoned || info.Phase == protocol.PhaseRefused || info.Phase == protocol.PhaseRejected ||
			info.Phase == protocol.PhaseFinal && info.Finalize != "" // the FINALIZE envelope is in
		if ok && done {
			// The core's state runs ahead of the trail within a round (an
			// input is stepped, then its line written, then the round's
			// lines made durable): the end is reported once its round is
			// committed.
			if err := h.rounds.wait(ctx, h.halted); err != nil {
				return info, err
			}
			return info, h.Err()
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return info, ctx.Err()
		}
	}
}

// watchers wakes waiters when a thread changes.
type watchers struct {
	mu sync.Mutex
	m  map[string]chan struct{}
}

func (w *watchers) watch(thread string) <-chan struct{} {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.m == nil {
		w.m = map[string]chan struct{}{}
	}
	ch := w.m[thread]
	if ch == nil {
		ch = make(chan struct{})
		w.m[thread] = ch
	}
	return ch
}

func (w *watchers) notify(thread string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if ch := w.m[thread]; ch != nil {
		close(ch)
		delete(w.m, thread)
	}
}

// PlanQuery answers a plan_query request against this node's plan.
func (h *Host) PlanQuery(request []byte) ([]byte, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.core.Plan().QueryJSON(request)
}

// ChaosCounts says how many deliveries the bus chaos dropped, duplicated,
// delayed and reordered (all 0 without Config.Chaos).
func (h *Host) ChaosCounts() (dropped, duplicated, delayed, reordered int) {
	if h.chaos == nil {
		return
	}
	return h.chaos.Dropped, h.chaos.Duplicated, h.chaos.Delayed, h.chaos.Reordered
}

// rounds counts the loop's rounds begun and committed, so that a reader
// who saw the core in some state can wait until the lines of that state
// are durable: every round begun by then is committed.
type rounds struct {
	mu    sync.Mutex
	begun uint64
	done  uint64
	next  chan struct{} // closed at the next commit
}

func (r *rounds) begin() {
	r.mu.Lock()
	r.begun++
	r.mu.Unlock()
}

func (r *rounds) committed() {
	r.mu.Lock()
	r.done = r.begun
	if r.next != nil {
		close(r.next)
		r.next = nil
	}
	r.mu.Unlock()
}

// wait returns once every round begun before it was called is committed,
// or with ctx's error, or when stopped is closed (the node halted: its
// rounds are not committed).
func (r *rounds) wait(ctx context.Context, stopped <-chan struct{}) error {
	r.mu.Lock()
	target := r.begun
	for r.done < target {
		if r.next == nil {
			r.next = make(chan struct{})
		}
		ch := r.next
		r.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		case <-stopped:
			return nil
		}
		r.mu.Lock()
	}
	r.mu.Unlock()
	return nil
}
