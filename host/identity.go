package host

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/canswarm/swarmhost/abi/envelope"
	"github.com/canswarm/swarmhost/host/agents"
	"github.com/canswarm/swarmhost/host/cas"
	"github.com/canswarm/swarmhost/host/keys"
	"github.com/canswarm/swarmhost/host/policy/compile"
	"github.com/canswarm/swarmhost/host/protocol"
	"github.com/canswarm/swarmhost/policies"
)

// identity is the host's keys: its root key (which is also the host's own
// signing key, with a token it issues itself for the host role), a client
// key for NEEDs submitted through the API, and one key per local agent.
type identity struct {
	store       *keys.Store
	root        *keys.Key
	hostToken   string
	client      *keys.Key
	clientToken string

	// agentsMu guards agents: a reload of the plugins folder installs
	// agents while the loop and the API read them.
	agentsMu sync.RWMutex
	agents   map[string]*localAgent // by public key, removed ones included
}

type localAgent struct {
	file  string
	key   *keys.Key
	token string
	info  protocol.AgentInfo
	// removed: the plugin left the folder (the core refuses what its runs
	// under way answer; the entry names it in the node's reports).
	removed bool
}

// agent returns the local agent with public key pk, nil if none.
func (id *identity) agent(pk string) *localAgent {
	id.agentsMu.RLock()
	defer id.agentsMu.RUnlock()
	return id.agents[pk]
}

// currentAgents lists the local agents whose plugin is in the folder.
func (id *identity) currentAgents() []*localAgent {
	id.agentsMu.RLock()
	defer id.agentsMu.RUnlock()
	var out []*localAgent
	for _, a := range id.agents {
		if !a.removed {
			out = append(out, a)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].file < out[j].file })
	return out
}

func loadIdentity(ctx context.Context, dir string, store cas.Store) (*identity, error) {
	ks, err := keys.NewStore(dir, nil)
	if err != nil {
		return nil, fmt.Errorf("host: %w", err)
	}
	id := &identity{store: ks, agents: map[string]*localAgent{}}
	if id.root, err = ks.Ensure("root"); err != nil {
		return nil, fmt.Errorf("host: root key: %w", err)
	}
	if _, id.hostToken, err = keys.IssueAndStore(ctx, store, id.root, id.root.Public,
		[]envelope.Role{envelope.RoleHost}, nil, 0); err != nil {
		return nil, fmt.Errorf("host: host token: %w", err)
	}
	if id.client, err = ks.Ensure("client"); err != nil {
		return nil, fmt.Errorf("host: client key: %w", err)
	}
	if _, id.clientToken, err = keys.IssueAndStore(ctx, store, id.root, id.client.Public,
		[]envelope.Role{envelope.RoleClient}, nil, 0); err != nil {
		return nil, fmt.Errorf("host: client token: %w", err)
	}
	return id, nil
}

// agentIdentities gives every loaded plugin a key (kept under keys/ by file
// name, so a plugin keeps its identity across restarts and reloads) and a
// token issued by the root key for the roles and capabilities its manifest
// declares, and holds its module in mods (so that a run asked for it is
// made with it, whatever the folder holds by then). install makes them the
// local agents (those of plugins no longer loaded are marked removed): the
// caller calls it when the core is given the configuration.
func (id *identity) agentIdentities(ctx context.Context, reg *agents.Registry, pluginsDir string, store cas.Store, mods moduleGeneration, warn func(string)) (infos []protocol.AgentInfo, install func(), err error) {
	loaded := reg.Loaded()
	sort.Slice(loaded, func(i, j int) bool { return loaded[i].File < loaded[j].File })
	current := map[string]*localAgent{}
	for _, ev := range loaded {
		mod, release, err := reg.Acquire(ev.File)
		if err != nil {
			continue
		}
		m := mod.Manifest()
		// The module goes to the CAS, so that replay can run it again. One
		// stored already (loaded before: the folder may hold a file that
		// failed to replace it since) is not read again; a new one is read
		// from its file, which holds the bytes it was loaded from unless it
		// changed since (then the next scan loads it again).
		// (A Get, not a Has: a cluster host's store keeps its own copy of
		// what it reads, which replay of its trail needs; a corrupt copy
		// is put again, which repairs it.)
		moduleRef := mod.Ref()
		_, err = store.Get(ctx, moduleRef)
		if err != nil && !errors.Is(err, cas.ErrNotFound) && !errors.Is(err, cas.ErrCorrupt) {
			release()
			return nil, nil, fmt.Errorf("host: agent %s: looking for its module in the CAS: %w", ev.File, err)
		}
		if err != nil {
			wasmBytes, err := os.ReadFile(filepath.Join(pluginsDir, ev.File))
			if err != nil {
				release()
				return nil, nil, fmt.Errorf("host: agent %s: %w", ev.File, err)
			}
			if envelope.HashRef(wasmBytes) != moduleRef {
				release()
				warn(fmt.Sprintf("agent %s: the file changed while it was loaded; it is loaded again at the next scan of the plugins folder", ev.File))
				continue
			}
			if _, err := store.Put(ctx, wasmBytes); err != nil {
				release()
				return nil, nil, fmt.Errorf("host: agent %s: storing its module: %w", ev.File, err)
			}
		}
		mods.hold(moduleRef, mod, release)
		name := "agent-" + sanitize(strings.TrimSuffix(ev.File, ".wasm"))
		key, err := id.store.Ensure(name)
		if err != nil {
			return nil, nil, fmt.Errorf("host: agent %s: %w", ev.File, err)
		}
		var roles []envelope.Role
		for _, r := range m.Roles {
			if role := envelope.Role(r); role.Known() && role != envelope.RoleHost {
				roles = append(roles, role)
			}
		}
		_, tok, err := keys.IssueAndStore(ctx, store, id.root, key.Public, roles, m.Capabilities, 0)
		if err != nil {
			return nil, nil, fmt.Errorf("host: agent %s token: %w", ev.File, err)
		}
		var verbs []envelope.Verb
		for _, v := range m.Verbs {
			verbs = append(verbs, envelope.Verb(v))
		}
		info := protocol.AgentInfo{Name: strings.TrimSuffix(ev.File, ".wasm"), PK: key.PublicHex(), Capability: tok,
			Roles: roles, Capabilities: m.Capabilities, Verbs: verbs, Module: moduleRef}
		current[info.PK] = &localAgent{file: ev.File, key: key, token: tok, info: info}
		infos = append(infos, info)
	}
	return infos, func() { id.install(current) }, nil
}

// install makes current the local agents; the others are marked removed
// (kept, to name them in what the node reports about runs under way).
func (id *identity) install(current map[string]*localAgent) {
	id.agentsMu.Lock()
	defer id.agentsMu.Unlock()
	for pk, a := range id.agents {
		if current[pk] == nil && !a.removed {
			gone := *a
			gone.removed = true
			id.agents[pk] = &gone
		}
	}
	for pk, a := range current {
		id.agents[pk] = a
	}
}

func sanitize(s string) string {
	b := []byte(s)
	for i, c := range b {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-'
		if !ok {
			b[i] = '_'
		}
	}
	return string(b)
}

// key returns the private key of a local principal.
func (id *identity) key(pk string) (*keys.Key, bool) {
	switch {
	case pk == id.root.PublicHex():
		return id.root, true
	case pk == id.client.PublicHex():
		return id.client, true
	}
	if a := id.agent(pk); a != nil {
		return a.key, true
	}
	return nil, false
}

// buildDefaultCapsule compiles the embedded classify policy and stores the
// capsule; it returns its ref. It is built from a folder of the embedded
// files alone: a file someone left in data/policies/classify (where a copy
// of the source is written for reading) is not compiled into the default
// capsule of every NEED.
func buildDefaultCapsule(ctx context.Context, dataDir string, store cas.Store) (string, error) {
	dir := filepath.Join(dataDir, "policies", "classify")
	if err := writeClassifyPolicy(dir); err != nil {
		return "", err
	}
	build, err := os.MkdirTemp(filepath.Join(dataDir, "policies"), ".classify-build-")
	if err != nil {
		return "", fmt.Errorf("host: %w", err)
	}
	defer os.RemoveAll(build)
	if err := writeClassifyPolicy(build); err != nil {
		return "", err
	}
	c, err := compile.Build(ctx, build)
	if err != nil {
		return "", fmt.Errorf("host: building the classify capsule: %w", err)
	}
	ref, err := c.Store(ctx, store)
	if err != nil {
		return "", fmt.Errorf("host: storing the classify capsule: %w", err)
	}
	return ref, nil
}

// writeClassifyPolicy writes the embedded classify policy's files into dir.
func writeClassifyPolicy(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("host: %w", err)
	}
	err := fs.WalkDir(policies.Classify, "classify", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := policies.Classify.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dir, filepath.Base(p)), b, 0o644)
	})
	if err != nil {
		return fmt.Errorf("host: writing the classify policy: %w", err)
	}
	return nil
}
