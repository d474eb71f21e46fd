package host

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

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
	agents      map[string]*localAgent // by public key
}

type localAgent struct {
	file  string
	key   *keys.Key
	token string
	info  protocol.AgentInfo
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
// name, so a plugin keeps its identity across restarts) and a token issued
// by the root key for the roles and capabilities its manifest declares.
func (id *identity) agentIdentities(ctx context.Context, reg *agents.Registry, pluginsDir string, store cas.Store) ([]protocol.AgentInfo, error) {
	loaded := reg.Loaded()
	sort.Slice(loaded, func(i, j int) bool { return loaded[i].File < loaded[j].File })
	var infos []protocol.AgentInfo
	for _, ev := range loaded {
		mod, release, err := reg.Acquire(ev.File)
		if err != nil {
			continue
		}
		m := mod.Manifest()
		release()
		// The module goes to the CAS, so that replay can run it again.
		wasmBytes, err := os.ReadFile(filepath.Join(pluginsDir, ev.File))
		if err != nil {
			return nil, fmt.Errorf("host: agent %s: %w", ev.File, err)
		}
		moduleRef, err := store.Put(ctx, wasmBytes)
		if err != nil {
			return nil, fmt.Errorf("host: agent %s: storing its module: %w", ev.File, err)
		}
		name := "agent-" + sanitize(strings.TrimSuffix(ev.File, ".wasm"))
		key, err := id.store.Ensure(name)
		if err != nil {
			return nil, fmt.Errorf("host: agent %s: %w", ev.File, err)
		}
		var roles []envelope.Role
		for _, r := range m.Roles {
			if role := envelope.Role(r); role.Known() && role != envelope.RoleHost {
				roles = append(roles, role)
			}
		}
		_, tok, err := keys.IssueAndStore(ctx, store, id.root, key.Public, roles, m.Capabilities, 0)
		if err != nil {
			return nil, fmt.Errorf("host: agent %s token: %w", ev.File, err)
		}
		var verbs []envelope.Verb
		for _, v := range m.Verbs {
			verbs = append(verbs, envelope.Verb(v))
		}
		info := protocol.AgentInfo{Name: strings.TrimSuffix(ev.File, ".wasm"), PK: key.PublicHex(), Capability: tok,
			Roles: roles, Capabilities: m.Capabilities, Verbs: verbs, Module: moduleRef}
		id.agents[info.PK] = &localAgent{file: ev.File, key: key, token: tok, info: info}
		infos = append(infos, info)
	}
	return infos, nil
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
	if a := id.agents[pk]; a != nil {
		return a.key, true
	}
	return nil, false
}

// buildDefaultCapsule compiles the embedded classify policy (written to
// data/policies/classify) and stores the capsule; it returns its ref.
func buildDefaultCapsule(ctx context.Context, dataDir string, store cas.Store) (string, error) {
	dir := filepath.Join(dataDir, "policies", "classify")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("host: %w", err)
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
		return "", fmt.Errorf("host: writing the classify policy: %w", err)
	}
	c, err := compile.Build(ctx, dir)
	if err != nil {
		return "", fmt.Errorf("host: building the classify capsule: %w", err)
	}
	ref, err := c.Store(ctx, store)
	if err != nil {
		return "", fmt.Errorf("host: storing the classify capsule: %w", err)
	}
	return ref, nil
}
