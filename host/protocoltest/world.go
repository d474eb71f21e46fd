package protocoltest

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"

	"github.com/canswarm/swarmhost/abi/envelope"
	"github.com/canswarm/swarmhost/host/protocol"
)

// Fault kinds a schedule may inject. Options.Exclude leaves some out.
const (
	FaultDrop        = "drop"        // a delivery attempt is lost; the bus redelivers later
	FaultDup         = "dup"         // a message is delivered twice
	FaultDelay       = "delay"       // a delivery is held back; time passes while work waits
	FaultReorder     = "reorder"     // deliveries in any order rather than publish order
	FaultPartition   = "partition"   // a host is cut off from the bus and the cluster, healed later
	FaultCrash       = "crash"       // a host crashes between inputs and restarts later
	FaultTear        = "tear"        // a host crashes after recording an input, before acting on it
	FaultPublishLoss = "publishloss" // a publish fails before the bus acknowledges it
	FaultProposeDup  = "proposedup"  // a proposal is committed twice (a retried proposal)
	FaultStall       = "stall"       // a worker bids cheap and never claims
	FaultLie         = "lie"         // a verifier attests with a wrong digest
	FaultWrong       = "wrong"       // a worker commits a wrong result
	FaultResubmit    = "resubmit"    // the client sends its NEED again
	FaultRevoke      = "revoke"      // a host revokes the lying verifier's key (a recorded reload)
)

// AllFaults lists every fault kind.
var AllFaults = []string{FaultDrop, FaultDup, FaultDelay, FaultReorder, FaultPartition, FaultCrash, FaultTear,
	FaultPublishLoss, FaultProposeDup, FaultStall, FaultLie, FaultWrong, FaultResubmit, FaultRevoke}

// Options describe one schedule. Zero fields are drawn from the seed, so a
// seed alone names a whole schedule.
type Options struct {
	Seed    uint64
	Hosts   int      // 2 or 3 when 0
	Needs   int      // 1 to 3 when 0
	Shards  int      // 1 or 2 when 0
	Steps   int      // chaos steps, 120 to 360 when 0
	Exclude []string // fault kinds left out
	Trace   bool     // keep a readable trace of the schedule
}

// Retry policy of the shell: an envelope answered Retry is delivered again
// after retryDelay, and recorded rejected after maxRetries deliveries
// (host/loop.go: NakAfter(100ms), maxRetries 50).
const (
	retryDelay = 100
	maxRetries = 50
)

// startTime is the virtual clock at the start of a schedule (Unix ms).
const startTime = 1_000_000

// principal is a key with its token: first letter of the name gives the
// role: c client, h host, w/s/x worker (s stalls, x commits wrong
// results), v/l verifier (l lies), p planner.
type principal struct {
	name  string
	key   ed25519.PrivateKey
	pk    string
	token string // ref of its token in the CAS
	tok   []byte // the token's bytes
}

var (
	keyMu   sync.Mutex
	keyMemo = map[string]*principal{}
	rootKey = keyOf("root")
	rootPK  = envelope.EncodePublicKey(rootKey.Public().(ed25519.PublicKey))
)

func keyOf(name string) ed25519.PrivateKey {
	seed := sha256.Sum256([]byte("swarmhost protocoltest key: " + name))
	return ed25519.NewKeyFromSeed(seed[:])
}

func rolesOf(name string) []envelope.Role {
	switch name[0] {
	case 'c':
		return []envelope.Role{envelope.RoleClient}
	case 'h':
		return []envelope.Role{envelope.RoleHost}
	case 'w', 's', 'x':
		return []envelope.Role{envelope.RoleWorker}
	case 'v', 'l':
		return []envelope.Role{envelope.RoleVerifier}
	case 'p':
		return []envelope.Role{envelope.RolePlanner}
	}
	panic("protocoltest: no role for " + name)
}

// person returns the principal called name, its token issued by root
// (memoized across schedules: keys and tokens are deterministic).
func person(name string) *principal {
	keyMu.Lock()
	defer keyMu.Unlock()
	if p := keyMemo[name]; p != nil {
		return p
	}
	key := keyOf(name)
	tok, err := envelope.IssueToken(rootKey, key.Public().(ed25519.PublicKey), rolesOf(name), []string{"classify"}, 0)
	if err != nil {
		panic(err)
	}
	b, err := tok.Canonical()
	if err != nil {
		panic(err)
	}
	p := &principal{name: name, key: key, pk: envelope.EncodePublicKey(key.Public().(ed25519.PublicKey)),
		token: envelope.HashRef(b), tok: b}
	keyMemo[name] = p
	return p
}

// needSpec is a NEED the client submits.
type needSpec struct {
	name      string
	env       *envelope.Envelope
	deny      bool // the capsule's admit refuses it
	k, n      uint64
	window    uint64
	lease     uint64
	maxEpochs uint64
	deadline  uint64
	sent      bool
}

// World is one schedule: hosts, bus, shards, clock and the random source
// that drives them.
type World struct {
	opt     Options
	rng     *rand.Rand
	now     int64
	faults  map[string]bool // fault kinds enabled
	chaos   bool            // faults are being injected
	capsule string
	client  *principal
	people  map[string]*principal // by public key
	cas     map[string][]byte
	names   map[string]string // ref or key -> display name
	envs    map[string]*envelope.Envelope
	needs   []*needSpec
	hosts   []*Host
	bus     []*busMsg
	shards  []*shardModel
	props   []*proposal
	history []applyRecord
	trace   []string
	steps   int
	stopAt  int64 // when faults stopped
	doneAt  int64 // when every admitted NEED was finished everywhere
	issues  []string
}

func (w *World) tracef(format string, args ...any) {
	if w.opt.Trace {
		w.trace = append(w.trace, fmt.Sprintf("t=%d ", w.now-startTime)+fmt.Sprintf(format, args...))
	}
}

// violate records a property violation.
func (w *World) violate(format string, args ...any) {
	w.issues = append(w.issues, fmt.Sprintf(format, args...))
	w.tracef("VIOLATION "+format, args...)
}

func (w *World) on(fault string) bool { return w.chaos && w.faults[fault] }

// newWorld lays out a schedule from its options: hosts with their agents,
// NEEDs with their parameters, all drawn from the seed.
func newWorld(opt Options) *World {
	rng := rand.New(rand.NewPCG(opt.Seed, opt.Seed^0x9e3779b97f4a7c15))
	if opt.Hosts == 0 {
		opt.Hosts = 2 + rng.IntN(2)
	}
	if opt.Needs == 0 {
		opt.Needs = 1 + rng.IntN(3)
	}
	if opt.Shards == 0 {
		opt.Shards = 1 + rng.IntN(2)
	}
	if opt.Steps == 0 {
		opt.Steps = 120 + rng.IntN(241)
	}
	w := &World{opt: opt, rng: rng, now: startTime, faults: map[string]bool{}, people: map[string]*principal{},
		cas: map[string][]byte{}, names: map[string]string{}, envs: map[string]*envelope.Envelope{}}
	for _, f := range AllFaults {
		// Each schedule enables most fault kinds, so that a failure
		// can often be narrowed down by a smaller set.
		if !slices.Contains(opt.Exclude, f) && rng.IntN(5) != 0 {
			w.faults[f] = true
		}
	}
	w.capsule = envelope.HashRef([]byte("protocoltest capsule"))
	w.names[w.capsule] = "capsule"
	w.names[protocol.SwarmThread] = "swarm"
	w.client = w.person("c1")
	for s := 0; s < opt.Shards; s++ {
		w.shards = append(w.shards, newShardModel())
	}
	w.layoutHosts()
	for i := 0; i < opt.Needs; i++ {
		w.needs = append(w.needs, w.makeNeed(i))
	}
	return w
}

func (w *World) person(name string) *principal {
	p := person(name)
	w.people[p.pk] = p
	w.names[p.pk] = name
	w.cas[p.token] = p.tok
	return p
}

// layoutHosts makes the hosts: each has a worker, a verifier and a planner;
// a stalling or wrong worker and a lying verifier join when those faults
// are on. Every host's verifier pool is every verifier of the swarm.
func (w *World) layoutHosts() {
	type agentSet struct{ names []string }
	sets := make([]agentSet, w.opt.Hosts)
	for i := range sets {
		sets[i].names = []string{fmt.Sprintf("w%d", i), fmt.Sprintf("v%d", i), fmt.Sprintf("p%d", i)}
	}
	extra := func(fault, name string) {
		if w.faults[fault] {
			i := w.rng.IntN(w.opt.Hosts)
			sets[i].names = append(sets[i].names, fmt.Sprintf("%s%d", name, i))
		}
	}
	extra(FaultStall, "s")
	extra(FaultWrong, "x")
	extra(FaultLie, "l")
	var verifiers []string
	for _, s := range sets {
		for _, n := range s.names {
			if n[0] == 'v' || n[0] == 'l' {
				verifiers = append(verifiers, w.person(n).pk)
			}
		}
	}
	for i, s := range sets {
		hp := w.person(fmt.Sprintf("h%d", i))
		cfg := protocol.Config{HostPK: hp.pk, HostCapability: hp.token, Roots: envelope.Roots{rootPK},
			Verifiers: verifiers, NoBidsGraceMS: w.noBidsGrace()}
		for _, n := range s.names {
			cfg.Agents = append(cfg.Agents, w.agentInfo(n))
		}
		w.hosts = append(w.hosts, newHost(w, i, hp, cfg))
	}
}

// noBidsGrace is the hosts' wait after a bid window that closed with no
// eligible bid (protocol.Config.NoBidsGraceMS): none on even seeds, as a
// host alone, and on odd seeds as hosts of a cluster, drawn from the seed
// without taking from the schedule's random numbers.
func (w *World) noBidsGrace() int64 {
	if w.opt.Seed%2 == 0 {
		return 0
	}
	return 50 + int64(w.opt.Seed/2%100)
}

func (w *World) agentInfo(name string) protocol.AgentInfo {
	p := w.person(name)
	info := protocol.AgentInfo{Name: name, PK: p.pk, Capability: p.token, Roles: rolesOf(name),
		Capabilities: []string{"classify"}}
	switch name[0] {
	case 'w', 's', 'x':
		info.Verbs = []envelope.Verb{envelope.VerbNeed, envelope.VerbDecide}
	case 'v', 'l':
		info.Verbs = []envelope.Verb{envelope.VerbCommit, envelope.VerbAttest}
	case 'p':
		info.Verbs = []envelope.Verb{envelope.VerbNeed}
	}
	return info
}

// makeNeed draws a NEED's parameters and signs it as the client.
func (w *World) makeNeed(i int) *needSpec {
	pool := len(w.hosts[0].cfg.Verifiers)
	ns := &needSpec{name: fmt.Sprintf("n%d", i+1), deny: w.rng.IntN(12) == 0}
	ns.k = 1 + uint64(w.rng.IntN(min(2, pool)))
	ns.n = ns.k + uint64(w.rng.IntN(pool-int(ns.k)+1))
	ns.window = 40 + uint64(w.rng.IntN(100))
	ns.lease = 150 + uint64(w.rng.IntN(300))
	ns.maxEpochs = 2 + uint64(w.rng.IntN(2))
	if w.rng.IntN(3) == 0 {
		ns.deadline = 800 + uint64(w.rng.IntN(2000))
	}
	input := map[string]any{"text": ns.name, "seed": fmt.Sprint(w.opt.Seed)}
	if ns.deny {
		input["deny"] = true
	}
	payload := map[string]any{"capability": "classify", "input": input, "k": ns.k, "n": ns.n,
		"bid_window_ms": ns.window, "lease_ms": ns.lease, "max_epochs": ns.maxEpochs, "deadline_ms": ns.deadline,
		"gas_budget": 0, "nonce": ns.name}
	e, err := envelope.Sign(envelope.Draft{Verb: envelope.VerbNeed, Lamport: 1, Capability: w.client.token,
		PolicyCapsuleHash: w.capsule, Payload: payload}, w.client.key)
	if err != nil {
		panic(err)
	}
	ns.env = e
	w.envs[e.ID] = e
	w.names[e.ID] = ns.name
	return ns
}

// needOf returns the spec of a NEED id, nil when unknown.
func (w *World) needOf(id string) *needSpec {
	for _, n := range w.needs {
		if n.env.ID == id {
			return n
		}
	}
	return nil
}

// resultRef is the result a worker commits for a NEED: the honest one is
// the same for every honest worker (deterministic work), a wrong one is not.
func (w *World) resultRef(need string, honest bool) string {
	text := "result of " + need
	if !honest {
		text = "wrong result of " + need
	}
	ref := envelope.HashRef([]byte(text))
	if _, ok := w.cas[ref]; !ok {
		b, _ := json.Marshal(map[string]string{"text": text})
		w.cas[ref] = b
		w.names[ref] = "res:" + map[bool]string{true: "good", false: "bad"}[honest] + ":" + w.name(need)
	}
	return ref
}

// evaluate is the policy oracle: the same answer on every host, as a real
// capsule is deterministic. admit is true unless the NEED asks to be
// refused, bid true, route null, verify true for the honest result.
func (w *World) evaluate(capsule, entry string, e *envelope.Envelope) (result json.RawMessage, gas uint64, digest string) {
	res := "null"
	switch entry {
	case "admit":
		res = "true"
		var p struct {
			Input struct {
				Deny bool `json:"deny"`
			} `json:"input"`
		}
		if json.Unmarshal(e.Payload, &p) == nil && p.Input.Deny {
			res = "false"
		}
	case "bid":
		res = "true"
	case "verify":
		var p struct {
			Result string `json:"result"`
		}
		json.Unmarshal(e.Payload, &p)
		res = fmt.Sprint(p.Result == w.resultRef(e.ThreadID, true))
	}
	gas = 100 + uint64(len(entry))
	digest = envelope.HashRef([]byte(strings.Join([]string{capsule, entry, e.ID, res, fmt.Sprint(gas)}, "|")))
	w.names[digest] = entry + "/" + w.name(e.ID)
	return json.RawMessage(res), gas, digest
}

// name is the display name of a key, ref or id.
func (w *World) name(s string) string {
	if n := w.names[s]; n != "" {
		return n
	}
	if strings.HasPrefix(s, envelope.RefPrefix) && len(s) > 15 {
		return "#" + s[7:15]
	}
	if len(s) > 8 {
		return s[:8]
	}
	return s
}

// describe is an envelope in one line of the trace.
func (w *World) describe(e *envelope.Envelope) string {
	if e == nil {
		return "<nil>"
	}
	s := fmt.Sprintf("%s %s", e.Verb, w.name(e.ID))
	if e.Verb != envelope.VerbNeed {
		s += " " + w.name(e.ThreadID)
	}
	s += fmt.Sprintf(" L%d by %s", e.Lamport, w.name(e.SenderPK))
	if len(e.Payload) < 400 && e.Verb != envelope.VerbNeed {
		s += " " + w.substNames(string(e.Payload))
	}
	return s
}

// substNames replaces the refs and keys in text by their names.
func (w *World) substNames(text string) string {
	for {
		i := strings.Index(text, `"`+envelope.RefPrefix)
		j := -1
		if i >= 0 && i+72 <= len(text) {
			j = i + 72
		}
		if j < 0 {
			break
		}
		text = text[:i] + w.name(text[i+1:j]) + text[j+1:]
	}
	for pk, p := range w.people {
		if strings.Contains(text, pk) {
			text = strings.ReplaceAll(text, `"`+pk+`"`, p.name)
		}
	}
	return text
}

// liar is the lying verifier's key ("" when the schedule has none).
func (w *World) liar() string {
	for _, h := range w.hosts {
		for _, a := range h.cfg.Agents {
			if strings.HasPrefix(a.Name, "l") {
				return a.PK
			}
		}
	}
	return ""
}
