package host

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"

	"github.com/canswarm/swarmhost/abi/envelope"
	"github.com/canswarm/swarmhost/host/api"
	"github.com/canswarm/swarmhost/host/protocol"
)

var _ api.Needs = (*Host)(nil)

// Submit signs a NEED with the host's client key and publishes it on the
// bus; the node (every node of a cluster) picks it up from there. An input
// that is not inline goes to the CAS and is named by content_refs[0].
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
	if req.GasBudget > 0 {
		payload["gas_budget"] = req.GasBudget
	}
	var refs []string
	if len(req.Input) > 0 {
		if len(req.Input) > 16<<10 {
			ref, err := h.CAS.Put(ctx, req.Input)
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
	return e.ID, nil
}

// Need returns a thread's state as the core holds it.
func (h *Host) Need(id string) (protocol.ThreadInfo, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.core.Thread(id)
}

// Wait blocks until the thread is final (and its FINALIZE envelope is
// in), abandoned or refused, or ctx ends.
func (h *Host) Wait(ctx context.Context, id string) (protocol.ThreadInfo, error) {
	for {
		ch := h.watchers.watch(id)
		info, ok := h.Need(id)
		done := info.Phase == protocol.PhaseAbandoned || info.Phase == protocol.PhaseRefused ||
			info.Phase == protocol.PhaseFinal && info.Finalize != "" // the FINALIZE envelope is in
		if ok && done {
			return info, nil
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
