package host_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/canswarm/swarmhost/abi/envelope"
	"github.com/canswarm/swarmhost/host"
	"github.com/canswarm/swarmhost/host/api"
	"github.com/canswarm/swarmhost/host/audit"
	"github.com/canswarm/swarmhost/host/cas"
	"github.com/canswarm/swarmhost/host/protocol"
	"github.com/canswarm/swarmhost/host/replay"
	"github.com/canswarm/swarmhost/internal/plugintest"
)

// A plugin added to, replaced in and removed from a running node's plugins
// folder takes effect without a restart: an agent added is dispatched to,
// a replaced one runs its new module under its old identity, a removed one
// is no longer run; each change is a reload line in the trail, and the
// trail replays, every agent run again with the module it had then.
func TestPluginsChangeWhileTheNodeRuns(t *testing.T) {
	dir := t.TempDir()
	h := openAt(t, dir, map[string]string{"classifier-a.wasm": "classifier", "verifier-a.wasm": "verifier",
		"verifier-b.wasm": "verifier", "verifier-c.wasm": "verifier"}, host.Config{PluginsPoll: 50 * time.Millisecond})
	defer h.Close()
	pdir := filepath.Join(dir, "plugins")
	put := func(file, name string) {
		t.Helper()
		b, err := os.ReadFile(plugintest.Path(t, name))
		if err != nil {
			t.Fatal(err)
		}
		// Written aside and renamed, as a deployment does: a scan never
		// reads a half-written module.
		tmp := filepath.Join(pdir, ".tmp-"+file)
		if err := os.WriteFile(tmp, b, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, filepath.Join(pdir, file)); err != nil {
			t.Fatal(err)
		}
	}
	reloads := func() []protocol.Configure {
		var out []protocol.Configure
		name, _ := audit.FileName(protocol.SwarmThread)
		if _, err := os.Stat(filepath.Join(h.Trail.Dir(), name)); err != nil {
			return nil // the start's configuration is not stepped yet
		}
		for _, r := range trailLines(t, h, protocol.SwarmThread) {
			var c protocol.Configure
			if r.Kind == host.KindConfig && json.Unmarshal(r.Envelope, &c) == nil && c.Reload {
				out = append(out, c)
			}
		}
		return out
	}
	// waitReload waits for the n-th reload line and returns it.
	waitReload := func(n int) protocol.Configure {
		t.Helper()
		deadline := time.Now().Add(60 * time.Second)
		for {
			if r := reloads(); len(r) >= n {
				return r[n-1]
			}
			if time.Now().After(deadline) {
				t.Fatalf("no reload %d in the trail", n)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	agentNamed := func(c protocol.Configure, name string) *protocol.AgentInfo {
		for i := range c.Agents {
			if c.Agents[i].Name == name {
				return &c.Agents[i]
			}
		}
		return nil
	}

	// Added: the planner records the NEED as a plan task.
	put("planner.wasm", "planner")
	if c := waitReload(1); agentNamed(c, "planner") == nil {
		t.Fatalf("the reload does not name the planner: %+v", c.Agents)
	}
	if _, ok := h.AgentKeys()["planner.wasm"]; !ok {
		t.Fatalf("the planner is not a local agent: %v", h.AgentKeys())
	}
	id := submit(t, h, 2, 3, 10_000)
	if info := wait(t, h, id); info.Phase != protocol.PhaseFinal {
		t.Fatalf("NEED after the planner was added ended %s", info.Phase)
	}
	planFinal(t, h, id)

	// Replaced: verifier-c now lies, under the key verifier-c had; its
	// ATTEST is challenged and invalidated.
	before := h.AgentKeys()["verifier-c.wasm"]
	put("verifier-c.wasm", "liar")
	liarBytes, err := os.ReadFile(plugintest.Path(t, "liar"))
	if err != nil {
		t.Fatal(err)
	}
	if a := agentNamed(waitReload(2), "verifier-c"); a == nil || a.Module != envelope.HashRef(liarBytes) || a.PK != before {
		t.Fatalf("the reload after the replacement names verifier-c as %+v, want the liar's module under key %s", a, before)
	}
	id2 := submit(t, h, 2, 3, 10_000)
	if info := wait(t, h, id2); info.Phase != protocol.PhaseFinal {
		t.Fatalf("NEED after the replacement ended %s", info.Phase)
	}
	waitInvalidated(t, h, id2, before)

	// Removed: the planner is not run for a NEED after.
	if err := os.Remove(filepath.Join(pdir, "planner.wasm")); err != nil {
		t.Fatal(err)
	}
	if c := waitReload(3); agentNamed(c, "planner") != nil {
		t.Fatalf("the reload after the removal still names the planner")
	}
	if _, ok := h.AgentKeys()["planner.wasm"]; ok {
		t.Fatal("a removed plugin is still a local agent")
	}
	id3 := submit(t, h, 2, 3, 10_000)
	if info := wait(t, h, id3); info.Phase != protocol.PhaseFinal {
		t.Fatalf("NEED after the removal ended %s", info.Phase)
	}
	if b, err := h.PlanQuery([]byte(`{"task":"` + id3 + `"}`)); err == nil || !strings.Contains(err.Error(), "no such task") {
		t.Fatalf("a NEED after the planner was removed is in the plan: %s %v", b, err)
	}

	// Nothing changed: no reload.
	time.Sleep(300 * time.Millisecond)
	if n := len(reloads()); n != 3 {
		t.Fatalf("%d reloads, want 3: a scan that finds nothing changed steps none", n)
	}
	h.Close()
	var out strings.Builder
	if _, err := replay.Run(context.Background(), replay.Options{DataDir: dir, Out: &out}); err != nil {
		t.Fatalf("replay: %v\n%s", err, out.String())
	}
}

// waitInvalidated waits until an ATTEST of the agent with key pk on the
// NEED is invalidated, and returns its id.
func waitInvalidated(t *testing.T, h *host.Host, id, pk string) string {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		attest := ""
		for _, e := range acceptedEnvelopes(t, h, id) {
			if e.Verb == envelope.VerbAttest && e.SenderPK == pk {
				attest = e.ID
			}
			var inv struct {
				Target string `json:"target"`
			}
			if e.Verb == envelope.VerbInvalidate && attest != "" && json.Unmarshal(e.Payload, &inv) == nil && inv.Target == attest {
				return attest
			}
		}
		if time.Now().After(deadline) {
			info, _ := h.Need(id)
			t.Fatalf("no ATTEST of %s invalidated on %s (attest %q); thread %v", pk, id, attest, verbs(info))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// A run asked for before a stop and never answered is asked for again at
// the next start, with the module the agent had when it was asked: the
// plugin replaced while the node was stopped, the node loads that module
// from the CAS (as replay does), and the trail replays.
func TestARunAskedAgainAfterItsPluginWasReplaced(t *testing.T) {
	dir := t.TempDir()
	plugins := map[string]string{"classifier.wasm": "classifier", "verifier.wasm": "verifier"}
	h := openAt(t, dir, plugins, host.Config{PluginsPoll: -1})
	// An input the classifier takes long to read to bid: its run on the
	// NEED is under way when the node stops.
	var texts []string
	for i := 0; i < 20_000; i++ {
		texts = append(texts, "where is my parcel number "+strings.Repeat("x", i%50))
	}
	input, _ := json.Marshal(texts)
	ref, err := h.CAS.Put(context.Background(), input)
	if err != nil {
		t.Fatal(err)
	}
	id, err := h.Submit(context.Background(), api.NeedRequest{Capability: "classify", InputRef: ref, K: 1, N: 1,
		BidWindowMS: 100, LeaseMS: 60_000, MaxEpochs: 3, DeadlineMS: 600_000, Nonce: t.Name()})
	if err != nil {
		t.Fatal(err)
	}
	// Stop once the admit is recorded: the classifier's bid run has begun.
	deadline := time.Now().Add(30 * time.Second)
	for {
		admitted := false
		name, _ := audit.FileName(id)
		if _, err := os.Stat(filepath.Join(h.Trail.Dir(), name)); err == nil {
			for _, r := range trailLines(t, h, id) {
				admitted = admitted || r.Kind == host.KindPolicy
			}
		}
		if admitted {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the NEED's admit was never recorded")
		}
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond)
	h.Close()
	for _, r := range trailLines(t, h, id) {
		if r.Kind == host.KindAgent {
			t.Skip("the classifier answered before the node stopped: this machine is too fast for the scenario")
		}
	}
	// The classifier replaced while the node was stopped, by a worker that
	// bids the same way and never works.
	staller, err := os.ReadFile(plugintest.Path(t, "staller"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "plugins", "classifier.wasm"), staller, 0o644); err != nil {
		t.Fatal(err)
	}
	h = openAt(t, dir, nil, host.Config{PluginsPoll: -1})
	// The run asked again answers with the classifier's bid for epoch 1
	// (the staller, the plugin now, bids in the epochs after).
	deadline = time.Now().Add(90 * time.Second)
	for done := false; !done; {
		for _, r := range trailLines(t, h, id) {
			if r.Kind != host.KindAgent {
				continue
			}
			var rec struct {
				Fault  string          `json:"fault"`
				Output json.RawMessage `json:"output"`
			}
			if err := json.Unmarshal(r.Envelope, &rec); err != nil {
				t.Fatal(err)
			}
			if rec.Fault != "" {
				t.Fatalf("a run after the start faulted: %s", r.Envelope)
			}
			done = done || strings.Contains(string(rec.Output), `"epoch":1`)
		}
		if !done && time.Now().After(deadline) {
			t.Fatal("the run asked before the stop was not made again after the start")
		}
		time.Sleep(20 * time.Millisecond)
	}
	h.Close()
	var out strings.Builder
	if _, err := replay.Run(context.Background(), replay.Options{DataDir: dir, Out: &out, NoRerun: false}); err != nil {
		t.Fatalf("replay: %v\n%s", err, out.String())
	}
}

// failingStore fails every Get and Put while armed: a CAS that does not
// answer.
type failingStore struct {
	cas.Store
	armed atomic.Bool
}

func (s *failingStore) Get(ctx context.Context, ref string) ([]byte, error) {
	if s.armed.Load() {
		return nil, errors.New("the store does not answer (test)")
	}
	return s.Store.Get(ctx, ref)
}

func (s *failingStore) Put(ctx context.Context, data []byte) (string, error) {
	if s.armed.Load() {
		return "", errors.New("the store does not answer (test)")
	}
	return s.Store.Put(ctx, data)
}

// A revocation takes effect while the store does not answer: it is a
// reload with the agents in force, which needs no store (a plugins change
// needs one, to keep the modules and issue the tokens). A plugin added
// meanwhile waits for the store; the revocation does not wait for it.
func TestRevocationNeedsNoStore(t *testing.T) {
	dir := t.TempDir()
	store := &failingStore{}
	inForce := make(chan []string, 4)
	cfg := host.WithStoreWrapper(host.Config{PluginsPoll: 50 * time.Millisecond,
		OnRevoked: func(list []string) { inForce <- list }}, func(s cas.Store) cas.Store {
		store.Store = s
		return store
	})
	h := openAt(t, dir, honest, cfg)
	defer h.Close()
	keys := h.AgentKeys()
	revoked := keys["verifier-c.wasm"]
	if revoked == "" {
		t.Fatalf("no verifier-c among %v", keys)
	}
	store.armed.Store(true)
	b, err := os.ReadFile(plugintest.Path(t, "verifier"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "plugins", "verifier-d.wasm"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "revoked"), []byte(revoked+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	select {
	case list := <-inForce:
		if !slices.Equal(list, []string{revoked}) {
			t.Fatalf("in force: %v, want [%s]", list, revoked)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the revocation never took effect while the store did not answer")
	}
	var last protocol.Configure
	deadline := time.Now().Add(10 * time.Second)
	for !slices.Contains(last.Revoked, revoked) {
		if time.Now().After(deadline) {
			t.Fatalf("no reload naming the revocation in the trail (last %+v)", last)
		}
		time.Sleep(20 * time.Millisecond)
		for _, r := range trailLines(t, h, protocol.SwarmThread) {
			var c protocol.Configure
			if r.Kind == host.KindConfig && json.Unmarshal(r.Envelope, &c) == nil && c.Reload {
				last = c
			}
		}
	}
	var names []string
	for _, a := range last.Agents {
		names = append(names, a.Name)
	}
	slices.Sort(names)
	if want := []string{"classifier-a", "classifier-b", "planner", "verifier-a", "verifier-b", "verifier-c"}; !slices.Equal(names, want) {
		t.Fatalf("the revocation's reload names agents %v, want those in force %v (verifier-d waits for the store)", names, want)
	}
	// The store back, the plugin added meanwhile comes in.
	store.armed.Store(false)
	deadline = time.Now().Add(30 * time.Second)
	for {
		if _, ok := h.AgentKeys()["verifier-d.wasm"]; ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("verifier-d never loaded once the store answered")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
