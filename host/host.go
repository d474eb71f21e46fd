package host

import (
	"cmp"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/canswarm/swarmhost/abi/envelope"
	"github.com/canswarm/swarmhost/consensus"
	"github.com/canswarm/swarmhost/host/agents"
	"github.com/canswarm/swarmhost/host/api"
	"github.com/canswarm/swarmhost/host/audit"
	"github.com/canswarm/swarmhost/host/bus"
	"github.com/canswarm/swarmhost/host/cas"
	"github.com/canswarm/swarmhost/host/keys"
	"github.com/canswarm/swarmhost/host/lamport"
	"github.com/canswarm/swarmhost/host/policy"
	"github.com/canswarm/swarmhost/host/protocol"
	"github.com/canswarm/swarmhost/host/wasm"
	"github.com/canswarm/swarmhost/internal/dirlock"
	"github.com/canswarm/swarmhost/internal/tlsgen"
)

// Config says how to open a Host.
type Config struct {
	// DataDir holds everything the node keeps: raft/, nats/, cas/, audit/,
	// keys/, node.json.
	DataDir string
	// PluginsDir is the folder of agent plugins (default DataDir/plugins).
	PluginsDir string
	// Consensus configures the DECIDE shards; its Dir defaults to
	// DataDir/raft.
	Consensus consensus.Config
	// NATSURL connects to an external NATS server or cluster instead of
	// starting the embedded one. NATSListen is the embedded server's client
	// address (default a free loopback port); NATSRoutes and NATSClusterListen
	// join embedded servers into a cluster.
	NATSURL    string
	NATSListen string
	// BusSecret, when set, is the bus's shared secret (bus.Config.Secret):
	// the embedded server takes clients and routes only with it, and the
	// node gives it. Every host of a cluster has the same one.
	BusSecret string
	// NATSTLS is the TLS of the connection to NATSURL (bus.ClientTLS), when
	// that server's client port speaks TLS. The embedded server's client
	// port speaks mutual TLS whenever Consensus.TLS is set: the cluster's
	// certificates, as its routes.
	NATSTLS     *tls.Config
	NATSCluster *bus.ClusterConfig
	// APIAddr is where the loopback API listens (default 127.0.0.1:0); a
	// non-loopback address is refused (api.CheckLoopback).
	APIAddr string
	// MetricsAddr, when set, is where GET /metrics and /healthz are served
	// besides the API, on any address (a scraper on another machine).
	MetricsAddr string
	// Roots are extra trusted token issuers (the other hosts of a cluster);
	// this host's own root key is always trusted.
	Roots []string
	// Verifiers are remote verifiers' keys added to the verifier pool.
	Verifiers []string
	// Chaos, when set, injects faults into what the node receives from the
	// bus (drop, duplicate, delay, reorder by seed and rate): for tests of
	// a real node.
	Chaos *bus.Chaos
	// Log receives the node's log lines; nil discards them.
	Log *slog.Logger
	// Events, when set, is told of every step the node takes, one line each
	// (the demo prints them).
	Events func(Event)
	// WasmCacheDir keeps compiled modules across restarts (default
	// $SWARMHOST_WASM_CACHE, else DataDir/wasm-cache); tests share one to
	// compile each plugin once.
	WasmCacheDir string
	// ConsensusOff runs without the DECIDE shards: only for tools that read
	// a node's data (need show on a stopped node). Not for serving.
	ConsensusOff bool
	// CheckpointEvery is how often the node writes a CHECKPOINT while it
	// runs (besides the one on a clean stop), so that `replay
	// --from-checkpoint` of a long-running node's trail has a recent one:
	// 0 is DefaultCheckpointEvery, a negative value none. A tick writes
	// one only when the core wants it (protocol.Core.CheckpointWanted:
	// anything but periodic lines came since the last, or a NEED is due
	// to retire).
	CheckpointEvery time.Duration
	// ReconcileEvery is how often the node offers a RECONCILE of the plan
	// to the other hosts (anti-entropy: the bus delivers every UPDATE_PLAN,
	// but a host away longer than the stream keeps them lacks some): 0 is
	// DefaultReconcileEvery, a negative value none.
	// A tick offers only when the core wants to (the plan changed since
	// its last offer, or another host's RECONCILE showed a different
	// plan: protocol.Core.ReconcileWanted), and at every
	// ReconcileAnywayAfter-th tick regardless.
	ReconcileEvery time.Duration
	// RetainEnded is how long a thread that ended (final, abandoned,
	// refused) stays whole in memory: the first checkpoint after retires
	// it to its summary (what `need show` prints; the audit trail keeps
	// everything) and asks its shard's GC to drop its record; the core
	// takes no more envelopes on it. 0 is
	// DefaultRetainEnded, a negative value keeps every thread whole for the
	// life of the node (memory grows with every flow).
	RetainEnded time.Duration
	// PluginsPoll is how often the node looks for plugins added to,
	// replaced in or removed from its plugins folder while it runs (each
	// change is a recorded reload of the agents: protocol.Configure with
	// Reload), and at DATA/revoked and the cluster's membership (a change
	// of either, or of the no-bids wait it sets, is a reload with the
	// agents in force): 0 is DefaultPluginsPoll, a negative value never
	// (all three are read at start only).
	PluginsPoll time.Duration
	// OnPluginEvent, when set, is told of every plugin the node loaded,
	// replaced or removed while it ran, of every one that failed to load
	// (at start too), and of a folder it cannot read or a reload it cannot
	// make (Kind Failed, File the folder): the operator's view of the
	// plugins folder.
	OnPluginEvent func(agents.Event)
	// OnAgentKeys, when set, is told the local agents (plugin file ->
	// public key) each time a reload makes them, before the core is given
	// them (a verifier's key goes in the other hosts' --verifiers).
	OnAgentKeys func(map[string]string)
	// BusMaxAge drops envelopes older than this from the bus's stream (the
	// audit trail is the record; the stream only carries them). 0 keeps
	// them all; otherwise at least the stream's dedup window (24h).
	BusMaxAge time.Duration
	// BusDedupWindow is how long the stream remembers envelope ids, to
	// store a republished envelope once (receivers drop duplicates by id
	// anyway); the server holds ~120 B per envelope for it. 0 is
	// bus.DefaultDedupWindow (24h).
	BusDedupWindow time.Duration
	// OnRevoked, when set, is told the revocation list (DATA/revoked) each
	// time the node takes a changed one while it runs; OnRevokedError when
	// it cannot (told once until it reads again).
	OnRevoked      func([]string)
	OnRevokedError func(error)
	// NoBidsGrace: a bid window that closes on this host with no eligible
	// bid waits this long more before the host proposes RELEASE(no_bids),
	// so that a host of the cluster that did receive bids has its DECIDE
	// committed first (protocol.Config.NoBidsGraceMS). 0 is
	// DefaultNoBidsGrace for a host of a cluster (its shards have other
	// members) and none for a host alone; a negative value none.
	NoBidsGrace time.Duration

	// wrapStore, when set (tests: export_test.go), wraps the node's CAS.
	wrapStore func(cas.Store) cas.Store
	// publishFault, when set (tests), fails a publication of the node's
	// own envelope with the error it returns (nil: published).
	publishFault func(e *envelope.Envelope) error
	// proposeFault, when set (tests), fails a proposal of the op with the
	// error it returns before it reaches the shards.
	proposeFault func(op string) error
}

// DefaultPluginsPoll is how often a running node looks at its plugins
// folder for changes.
const DefaultPluginsPoll = 2 * time.Second

// DefaultNoBidsGrace is how long a host of a cluster waits after a bid
// window that closed with no eligible bid before it proposes
// RELEASE(no_bids): long enough for the bus delivery of a loaded host to
// catch up with the others'.
const DefaultNoBidsGrace = 2 * time.Second

// noBidsGraceMS is Config.NoBidsGrace with its default, for the core:
// clustered says the consensus cluster has other hosts.
func (c *Config) noBidsGraceMS(clustered bool) int64 {
	switch {
	case c.NoBidsGrace < 0:
		return 0
	case c.NoBidsGrace > 0:
		return c.NoBidsGrace.Milliseconds()
	case clustered:
		return DefaultNoBidsGrace.Milliseconds()
	}
	return 0
}

// noBidsGraceMS is the node's Config.NoBidsGrace with its default: a host
// is one of a cluster when its shards have other members as its replica
// knows them (a restarted member names no peers), or, when that cannot be
// read, when it was started with peers or to join. The node looks at the
// membership with its plugins folder (Config.PluginsPoll): a change that
// changes the wait (a host alone joined by others, a cluster down to one)
// is a reload (configuredGrace).
func (h *Host) noBidsGraceMS() int64 {
	if h.Consensus != nil {
		if n, err := h.Consensus.Members(); err == nil {
			return h.cfg.noBidsGraceMS(n > 1)
		}
		if h.graceSet.Load() {
			return h.graceMS.Load() // the membership unread: the wait in force stays (as graceChanged sees it)
		}
	}
	return h.cfg.noBidsGraceMS(len(h.cfg.Consensus.Peers) > 1 || h.cfg.Consensus.Join)
}

// configuredGrace is noBidsGraceMS for a Configure, kept as the one in
// force.
func (h *Host) configuredGrace() int64 {
	g := h.noBidsGraceMS()
	h.graceMS.Store(g)
	h.graceSet.Store(true)
	return g
}

// graceChanged reports whether the replica's membership, read now, asks
// for another no-bids wait than the one last configured.
func (h *Host) graceChanged() bool {
	if h.Consensus == nil {
		return false
	}
	n, err := h.Consensus.Members()
	if err != nil {
		return false // read again at the next poll
	}
	g := h.cfg.noBidsGraceMS(n > 1)
	if g == h.graceMS.Load() {
		return false
	}
	h.log.Info("the consensus cluster's membership changed: the no-bids wait changes with it", "members", n,
		"wait_ms", g, "was_ms", h.graceMS.Load())
	return true
}

// DefaultCheckpointEvery is how often a running node writes a CHECKPOINT.
const DefaultCheckpointEvery = 10 * time.Minute

// DefaultRetainEnded is how long a thread that ended stays whole in memory
// before a checkpoint retires it.
const DefaultRetainEnded = 10 * time.Minute

// DefaultReconcileEvery is how often a running node offers a RECONCILE.
const DefaultReconcileEvery = 5 * time.Minute

// ReconcileAnywayAfter is how many anti-entropy ticks in a row a node
// skips at most while no offer is wanted (Config.ReconcileEvery): an offer
// the core made may have been lost before any host saw it (a crash took it
// with the outbox), which nothing here would know. At the default
// interval, an offer an hour from an idle node rather than one every five
// minutes.
const ReconcileAnywayAfter = 12

// Event is one thing the node did, for a human watching.
type Event struct {
	Thread string
	Text   string
}

// Host is a running node: the pure protocol core in its I/O shell.
type Host struct {
	own       ownEnvelopes // published here, until the stream delivers them back
	out       *outbox      // published here, the bus refused them: sent again
	cfg       Config
	log       *slog.Logger
	Consensus *consensus.Node
	API       *api.Server
	Observe   *api.Server    // GET /metrics and /healthz on Config.MetricsAddr; nil without it
	OnBus     *api.BusServer // the NEED routes on the bus, for clients given --nats-url
	Bus       *bus.Bus
	CAS       cas.Store
	Trail     *audit.Trail
	Runtime   *wasm.Runtime
	Agents    *agents.Registry

	id    *identity
	mods  *moduleHolds   // the agents' modules, by ref, while something may run them
	roots envelope.Roots // the trusted roots, for a reload's Configure
	// agentsInForce are the agents of the last Configure pushed, and the
	// module generation they hold (0: the start's), for a reconfigure
	// (watchPlugins' goroutine, or Open before it starts).
	agentsInForce []protocol.AgentInfo
	agentsGen     uint64
	// revoked is DATA/revoked as last read (ReadRevoked), for the next
	// Configure.
	revokedMu sync.Mutex
	revoked   []string
	clock     *lamport.Clock
	capsule   string // the default capsule's ref
	consumer  *bus.Consumer
	chaos     *bus.ChaosConsumer // when Config.Chaos is set

	mu       sync.Mutex // guards core
	core     *protocol.Core
	inputs   chan item
	policies sync.Map // capsule ref -> *policy.Policy
	tokens   sync.Map // token ref -> []byte
	watchers watchers
	lock     *dirlock.Lock // on the data folder, for as long as the node is open
	rounds   rounds        // the loop's rounds begun and committed, for Wait
	metrics  *nodeMetrics  // served at GET /metrics
	roundAt  atomic.Int64  // when the loop last began a round (Unix ms), for Health
	// tlsFile and tlsExpiry: the first of the cluster's TLS certificates
	// to stop being valid, and when (zero without cluster TLS), for Health
	// and the metrics.
	tlsFile   string
	tlsExpiry time.Time
	graceMS   atomic.Int64     // the no-bids wait of the last Configure (configuredGrace)
	graceSet  atomic.Bool      // graceMS was set
	lastAt    map[string]int64 // per thread: the last recorded clock line (loop only)
	// reconcileSkipped counts the anti-entropy ticks skipped in a row, no
	// offer being wanted (loop only; ReconcileAnywayAfter).
	reconcileSkipped int
	timers           threadTimers

	ctx       context.Context
	cancel    context.CancelFunc
	haltOnce  sync.Once
	halted    chan struct{} // closed when the node stopped itself (haltErr says why)
	haltErr   error
	unstepped []*bus.Delivery      // read, never stepped: handed back on close (mu)
	republish []*envelope.Envelope // this host's latest envelopes, published again on start (ownTail)
	closeOnce sync.Once
	looping   bool // the loop was started (the end of Open): Close asks it for a last CHECKPOINT
	wg        sync.WaitGroup
	agentS    chan struct{} // bounds concurrent agent and policy runs
}

// Open starts a node on cfg.DataDir and returns once it serves: every shard
// has a leader, the bus and the agents are up, the API listens; then
// data/node.json names it.
func Open(ctx context.Context, cfg Config) (_ *Host, err error) {
	if cfg.DataDir == "" {
		return nil, errors.New("host: Config.DataDir is required")
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("host: %w", err)
	}
	if cfg.Consensus.Dir == "" {
		cfg.Consensus.Dir = filepath.Join(cfg.DataDir, "raft")
	}
	if cfg.APIAddr == "" {
		cfg.APIAddr = "127.0.0.1:0"
	}
	if cfg.WasmCacheDir == "" {
		cfg.WasmCacheDir = os.Getenv("SWARMHOST_WASM_CACHE")
	}
	if cfg.WasmCacheDir == "" {
		cfg.WasmCacheDir = filepath.Join(cfg.DataDir, "wasm-cache")
	}
	if cfg.PluginsDir == "" {
		cfg.PluginsDir = filepath.Join(cfg.DataDir, "plugins")
	}
	if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
		return nil, fmt.Errorf("host: %w", err)
	}
	// One node per data folder, whatever its bus: two would write one
	// trail (a start recovers torn lines: it would cut the other's).
	lock, err := dirlock.Acquire(cfg.DataDir, api.LockFileName)
	if errors.Is(err, dirlock.ErrHeld) {
		return nil, fmt.Errorf("host: the data folder %s is %w (%w)", cfg.DataDir, ErrDataInUse, err)
	}
	if err != nil {
		return nil, fmt.Errorf("host: %w", err)
	}
	defer func() {
		if err != nil {
			lock.Release() // h.Close releases it otherwise
		}
	}()
	// A run file here now is a crashed node's: it would send clients to a
	// dead API and NATS server while this one starts.
	api.RemoveRunFile(cfg.DataDir)
	if err := os.MkdirAll(cfg.PluginsDir, 0o755); err != nil {
		return nil, fmt.Errorf("host: %w", err)
	}
	log := cfg.Log
	if log == nil && os.Getenv("SWARMHOST_LOG") != "" {
		log = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	hctx, cancel := context.WithCancel(context.Background())
	h := &Host{cfg: cfg, log: log, ctx: hctx, cancel: cancel, inputs: make(chan item, 1024), halted: make(chan struct{}),
		agentS: make(chan struct{}, 4), lastAt: map[string]int64{}, lock: lock}
	h.out = newOutbox(cfg.DataDir)
	h.metrics = newNodeMetrics(func() float64 { return float64(len(h.inputs)) },
		func() float64 { n, _, _ := h.out.waiting(); return float64(n) },
		func() float64 {
			if h.tlsExpiry.IsZero() {
				return 0
			}
			return float64(h.tlsExpiry.Unix())
		})
	h.roundAt.Store(nowMS())
	defer func() {
		if err != nil {
			h.Close()
		}
	}()
	if t := cfg.Consensus.TLS; t != nil {
		if h.tlsFile, h.tlsExpiry, err = tlsgen.ChainExpiry(t.CAFile, t.CertFile); err != nil {
			return nil, fmt.Errorf("host: the cluster's TLS certificates: %w", err)
		}
	}
	// The cluster's TLS files (consensus.Config.TLS) make the embedded NATS
	// server's client port and its routes mutual TLS too: every port the
	// node opens to the network then speaks TLS but the loopback API's.
	var routeTLS, clientTLS *tls.Config
	if t := cfg.Consensus.TLS; t != nil && cfg.NATSURL == "" {
		if clientTLS, err = bus.RouteTLS(t.CAFile, t.CertFile, t.KeyFile); err != nil {
			return nil, fmt.Errorf("host: %w", err)
		}
		if cfg.NATSCluster != nil {
			routeTLS = clientTLS.Clone() // the cluster's CA alone: withClientsCA makes the client port a pool of its own
		}
		if clientTLS.ClientCAs, err = withClientsCA(clientTLS.ClientCAs, filepath.Join(filepath.Dir(t.CAFile), tlsgen.ClientsCAFile)); err != nil {
			return nil, fmt.Errorf("host: %w", err)
		}
	}
	if cfg.NATSURL != "" {
		clientTLS = cfg.NATSTLS
	}
	if h.Bus, err = bus.Open(ctx, bus.Config{URL: cfg.NATSURL, DataDir: cfg.DataDir, Listen: cfg.NATSListen, Secret: cfg.BusSecret,
		Cluster: cfg.NATSCluster, RouteTLS: routeTLS, ClientTLS: clientTLS, AckWait: 30 * time.Second, MaxAge: cfg.BusMaxAge,
		DedupWindow: cfg.BusDedupWindow, Logger: cfg.natsLog(log)}); err != nil {
		return nil, fmt.Errorf("host: %w", err)
	}
	// startStore is the store for what the node puts while it starts
	// (its tokens, its agents' modules, the default capsule).
	var startStore cas.Store
	if cfg.NATSURL != "" || cfg.NATSCluster != nil {
		// Hosts of a cluster share one store: a worker's result and every
		// token must be readable by every host.
		raw, err := sharedStore(ctx, h.Bus)
		if err != nil {
			return nil, fmt.Errorf("host: %w", err)
		}
		// A replicated bucket takes a write only with a quorum of its
		// servers: hosts started one after the other, or on a loaded
		// machine, wait for the others for as long as the bucket's
		// placement may take, not the 30 s a running node's writes get.
		// Every blob this host puts or reads is also kept in DATA/cas,
		// so that its trail replays from its data folder alone.
		local, err := cas.NewFileStore(filepath.Join(cfg.DataDir, "cas"))
		if err != nil {
			return nil, fmt.Errorf("host: %w", err)
		}
		warn := func(s string) { log.Warn(s) }
		h.CAS = cas.Mirrored(cas.Retrying(raw, 30*time.Second), local, warn)
		startStore = cas.Mirrored(cas.Retrying(raw, sharedStoreWait), local, warn)
	} else {
		if h.CAS, err = cas.NewFileStore(filepath.Join(cfg.DataDir, "cas")); err != nil {
			return nil, fmt.Errorf("host: %w", err)
		}
		startStore = h.CAS
	}
	if cfg.wrapStore != nil {
		h.CAS = cfg.wrapStore(h.CAS)
		startStore = h.CAS
	}
	if h.Trail, err = audit.Open(filepath.Join(cfg.DataDir, "audit"), func(s string) { log.Warn(s) }); err != nil {
		return nil, fmt.Errorf("host: %w", err)
	}
	// Lines a crash left after their thread's head are this node's history
	// (it steps them again below): every head is brought up to them now,
	// not only those of threads it appends to again.
	if err := h.Trail.RecoverThreads(); err != nil {
		h.Trail.Close()
		return nil, fmt.Errorf("host: %w", err)
	}
	// The loop makes a round's lines durable at once, before their effects
	// leave (see process).
	h.Trail.SetGroupCommit(true)
	// The swarm thread is written to for the node's life (CHECKPOINTs,
	// RECONCILEs of every host): kept open, not read back whole each time
	// the NEEDs of a busy node push it out of the open files.
	if err := h.Trail.Pin(protocol.SwarmThread); err != nil {
		h.Trail.Close()
		return nil, fmt.Errorf("host: %w", err)
	}
	if h.clock, err = lamport.Open(filepath.Join(cfg.DataDir, "host.lamport"), 1024); err != nil {
		return nil, fmt.Errorf("host: %w", err)
	}
	if h.id, err = loadIdentity(ctx, filepath.Join(cfg.DataDir, "keys"), startStore); err != nil {
		return nil, err
	}
	if h.capsule, err = buildDefaultCapsule(ctx, cfg.DataDir, startStore); err != nil {
		return nil, err
	}
	if h.Runtime, err = wasm.NewRuntime(ctx, wasm.Config{CacheDir: cfg.WasmCacheDir}); err != nil {
		return nil, fmt.Errorf("host: %w", err)
	}
	var events []agents.Event
	if h.Agents, events, err = agents.Open(ctx, cfg.PluginsDir, h.Runtime, agents.Options{PollInterval: -1}); err != nil {
		return nil, fmt.Errorf("host: %w", err)
	}
	for _, ev := range events {
		if ev.Err != nil {
			log.Warn("plugin", "event", ev.String())
			if cfg.OnPluginEvent != nil {
				cfg.OnPluginEvent(ev)
			}
		}
	}
	h.mods = newModuleHolds()
	infos, install, err := h.id.agentIdentities(ctx, h.Agents, cfg.PluginsDir, startStore, h.mods.generation(0), func(s string) { log.Warn(s) })
	if err != nil {
		return nil, err
	}
	install()
	h.agentsInForce = infos
	roots := append(envelope.Roots{h.id.root.PublicHex()}, cfg.Roots...)
	h.roots = roots
	if h.revoked, err = h.readRevoked(); err != nil {
		return nil, fmt.Errorf("host: %w", err)
	}
	h.core, err = protocol.New(protocol.Config{HostPK: h.id.root.PublicHex(), HostCapability: h.id.hostToken,
		Roots: roots, Agents: infos, Verifiers: cfg.Verifiers})
	if err != nil {
		return nil, fmt.Errorf("host: %w", err)
	}
	if err := h.rebuild(); err != nil {
		return nil, err
	}
	if loaded, skipped, err := h.out.load(); err != nil {
		return nil, fmt.Errorf("host: %w", err)
	} else if len(loaded) > 0 || skipped > 0 {
		log.Info("sending first the envelopes the bus had refused before the node stopped", "count", len(loaded),
			"unreadable_lines", skipped)
	}
	h.publishAgain()
	if !cfg.ConsensusOff {
		if h.Consensus, err = consensus.Open(ctx, cfg.Consensus); err != nil {
			return nil, fmt.Errorf("host: %w", err)
		}
	}
	durable := "host-" + h.id.root.PublicHex()[:16]
	if h.consumer, err = h.Bus.Subscribe(ctx, bus.Filter{}, durable); err != nil {
		return nil, fmt.Errorf("host: %w", err)
	}
	h.consumer.Trust(h.own.take)
	h.wg.Add(3)
	h.looping = true
	go h.loop()
	go h.resend()
	// The agents, roots and verifiers of this start, as an input of their
	// own (recorded), after the trail's.
	h.push(item{in: &protocol.Configure{At: nowMS(), HostPK: h.id.root.PublicHex(), HostCapability: h.id.hostToken,
		Agents: infos, Roots: roots, Verifiers: cfg.Verifiers, NoBidsGraceMS: h.configuredGrace(), Revoked: h.revokedNow(),
		Rules: protocol.Rules}})
	go h.readBus()
	if h.Consensus != nil {
		h.wg.Add(1)
		go h.readApplied()
	}
	if every := cmp.Or(cfg.PluginsPoll, DefaultPluginsPoll); every > 0 {
		h.wg.Add(1)
		go h.watchPlugins(every)
	}
	if every := cfg.CheckpointEvery; every >= 0 {
		if every == 0 {
			every = DefaultCheckpointEvery
		}
		h.wg.Add(1)
		go h.every(every, func() protocol.Input { return h.checkpointDue() })
	}
	if every := cfg.ReconcileEvery; every >= 0 {
		if every == 0 {
			every = DefaultReconcileEvery
		}
		h.wg.Add(1)
		go h.every(every, func() protocol.Input { return &protocol.ReconcileDue{At: nowMS()} })
	}
	h.API = &api.Server{Needs: h, Metrics: h.metrics.handler(), Health: h.Health}
	if h.Consensus != nil {
		h.API.Consensus = h.Consensus
	}
	if err := h.API.Listen(cfg.APIAddr); err != nil {
		return nil, fmt.Errorf("host: %w", err)
	}
	if cfg.MetricsAddr != "" {
		h.Observe = &api.Server{ObserveOnly: true, Metrics: h.metrics.handler(), Health: h.Health}
		if err := h.Observe.Listen(cfg.MetricsAddr); err != nil {
			return nil, fmt.Errorf("host: --metrics-addr: %w", err)
		}
	}
	if h.OnBus, err = api.ServeOnBus(h.Bus.Conn(), h); err != nil {
		return nil, fmt.Errorf("host: %w", err)
	}
	rf := api.RunFile{PID: os.Getpid(), API: h.API.URL(), Capsule: h.capsule, SharedCAS: cfg.NATSURL != "" || cfg.NATSCluster != nil}
	if rf.SharedCAS {
		if err := api.MarkSharedCAS(cfg.DataDir); err != nil {
			return nil, fmt.Errorf("host: %w", err)
		}
	}
	if h.Consensus != nil {
		rf.RaftAddress, rf.ReplicaID = h.Consensus.RaftAddress(), h.Consensus.ReplicaID()
	}
	if emb := h.Bus.Embedded(); emb != nil {
		rf.NATSURL = emb.ClientURL()
	}
	if err := api.WriteRunFile(cfg.DataDir, rf); err != nil {
		return nil, fmt.Errorf("host: %w", err)
	}
	return h, nil
}

// DefaultCapsule is the ref of the capsule NEEDs submitted without one get.
func (h *Host) DefaultCapsule() string { return h.capsule }

// HostPK is the host's public key.
func (h *Host) HostPK() string { return h.id.root.PublicHex() }

// AgentKeys lists the local agents: plugin file name -> public key.
func (h *Host) AgentKeys() map[string]string {
	out := map[string]string{}
	for _, a := range h.id.currentAgents() {
		out[a.file] = a.info.PK
	}
	return out
}

// AgentKey returns a local agent's key by plugin file name (tests forge
// envelopes with it).
func (h *Host) AgentKey(file string) (*keys.Key, string, bool) {
	for _, a := range h.id.currentAgents() {
		if a.file == file {
			return a.key, a.token, true
		}
	}
	return nil, "", false
}

// Close stops the node; its data stays. It may be called more than once.
func (h *Host) Close() error {
	h.closeOnce.Do(h.close)
	return nil
}

func (h *Host) close() {
	h.checkpoint()
	if h.API != nil {
		api.RemoveRunFile(h.cfg.DataDir)
		h.API.Close()
	}
	if h.Observe != nil {
		h.Observe.Close()
	}
	if h.OnBus != nil {
		h.OnBus.Close()
	}
	h.cancel()
	if h.consumer != nil {
		h.consumer.Close()
	}
	if h.Consensus != nil {
		h.Consensus.Close()
	}
	h.wg.Wait()
	h.closeOutbox()
	// Deliveries read but never stepped go back to the server at once,
	// not after their ack wait: the next reader of this host's consumer
	// (the node restarted) has them without delay.
	for drained := false; !drained; {
		select {
		case it := <-h.inputs:
			h.giveBack(it)
		default:
			drained = true
		}
	}
	h.mu.Lock()
	for _, d := range h.unstepped {
		d.Nak()
	}
	h.unstepped = nil
	h.mu.Unlock()
	if h.Bus != nil {
		h.Bus.Close()
	}
	if h.mods != nil {
		h.mods.releaseAll()
	}
	if h.Agents != nil {
		h.Agents.Close(context.Background())
	}
	h.policies.Range(func(_, v any) bool { v.(*policy.Policy).Close(context.Background()); return true })
	if h.Runtime != nil {
		h.Runtime.Close(context.Background())
	}
	if h.Trail != nil {
		h.Trail.Close()
	}
	h.lock.Release()
}

// ErrDataInUse is part of Open's error when another node runs on the same
// data folder (in this process or another).
var ErrDataInUse = errors.New("in use by another node")

func (h *Host) event(thread, format string, args ...any) {
	if h.cfg.Events != nil {
		h.cfg.Events(Event{Thread: thread, Text: fmt.Sprintf(format, args...)})
	}
}

// sharedStoreWait is how long a starting node waits for the cluster's
// CAS bucket to be placed and to take its writes.
const sharedStoreWait = 2 * time.Minute

// sharedStore opens the cluster's CAS bucket, waiting (up to
// sharedStoreWait) while a clustered JetStream is still placing it.
func sharedStore(ctx context.Context, b *bus.Bus) (cas.Store, error) {
	deadline := time.Now().Add(sharedStoreWait)
	for {
		actx, cancel := context.WithTimeout(ctx, 10*time.Second)
		s, err := cas.NewObjectStoreReplicas(actx, b.JetStream(), "swarm-cas", b.Replicas())
		cancel()
		if err == nil {
			return s, nil
		}
		if ctx.Err() != nil || time.Now().After(deadline) {
			return nil, err
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// natsLog is the embedded server's logger: the node's, when
// SWARMHOST_LOG=nats asks for the server's lines too.
func (cfg Config) natsLog(l *slog.Logger) *slog.Logger {
	if os.Getenv("SWARMHOST_LOG") == "nats" {
		return l
	}
	return nil
}

// every steps the input due() makes every interval while the node runs:
// a CHECKPOINT, a RECONCILE offer.
func (h *Host) every(interval time.Duration, due func() protocol.Input) {
	defer h.wg.Done()
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			h.push(item{in: due(), periodic: true})
		case <-h.ctx.Done():
			return
		}
	}
}

// watchPlugins looks at the plugins folder every interval; when a plugin
// was added, replaced or removed, the agents are made again (keys, tokens,
// modules held) and a reload of the configuration is stepped: the core
// dispatches to the new set from then on, and the trail records it, so
// that replay does the same. A reload that could not be made (the store
// did not answer) is tried again at every interval until it is. A new
// revocation list, or a membership change that changes the no-bids wait,
// is a reload with the agents in force (reconfigure): it takes no store
// and no plugins folder, so an outage of either does not hold it back.
func (h *Host) watchPlugins(interval time.Duration) {
	defer h.wg.Done()
	t := time.NewTicker(interval)
	defer t.Stop()
	pending := false // a plugins change not in force yet
	problem := h.toldOnce("plugins", func(err error) {
		if h.cfg.OnPluginEvent != nil {
			h.cfg.OnPluginEvent(agents.Event{Kind: agents.Failed, File: h.cfg.PluginsDir, Err: err})
		}
	})
	revokedProblem := h.toldOnce("revocation list", func(err error) {
		if h.cfg.OnRevokedError != nil {
			h.cfg.OnRevokedError(fmt.Errorf("%w (the list in force stays)", err))
		}
	})
	for {
		select {
		case <-t.C:
		case <-h.ctx.Done():
			return
		}
		revChanged, rerr := h.rescanRevoked()
		revokedProblem(rerr)
		if revChanged || h.graceChanged() {
			// First, before the plugins folder (a module added is
			// compiled by its scan, which takes seconds).
			h.reconfigure()
			if revChanged && h.cfg.OnRevoked != nil && h.ctx.Err() == nil { // stopping: the push was given back
				h.cfg.OnRevoked(h.revokedNow()) // in force: the Configure is pushed
			}
		}
		changed, err := h.rescanPlugins(h.ctx)
		pending = pending || changed
		switch {
		case err != nil:
			problem(fmt.Errorf("the plugins folder cannot be read (the agents loaded keep serving): %w", err))
		case pending:
			if err := h.reloadPlugins(h.ctx); err != nil {
				problem(fmt.Errorf("the agents cannot be reloaded (tried again every %s; the agents loaded keep serving): %w", interval, err))
				break
			}
			problem(nil)
			pending = false
		default:
			problem(nil)
		}
	}
}

// reconfigure steps a reload of the configuration with the agents of the
// last one: the revocation list and the no-bids wait as they are now.
func (h *Host) reconfigure() {
	h.push(item{in: &protocol.Configure{At: nowMS(), Reload: true, HostPK: h.id.root.PublicHex(),
		HostCapability: h.id.hostToken, Agents: h.agentsInForce, Roots: h.roots, Verifiers: h.cfg.Verifiers,
		NoBidsGraceMS: h.configuredGrace(), Revoked: h.revokedNow(), Rules: protocol.Rules},
		reload: h.agentsGen})
}

// toldOnce returns a problem reporter for a loop that retries: each error
// is logged, and told once until it changes or a nil (a success) resets
// it; nothing is told once the node stops.
func (h *Host) toldOnce(what string, tell func(error)) func(error) {
	last := ""
	return func(err error) {
		if err == nil || h.ctx.Err() != nil {
			last = ""
			return
		}
		h.log.Warn(what, "error", err)
		if err.Error() != last {
			tell(err)
		}
		last = err.Error()
	}
}

// rescanPlugins brings the plugins registry in line with the folder and
// reports whether a plugin was added, replaced or removed.
func (h *Host) rescanPlugins(ctx context.Context) (changed bool, err error) {
	events, err := h.Agents.Rescan(ctx)
	for _, ev := range events {
		if h.cfg.OnPluginEvent != nil {
			h.cfg.OnPluginEvent(ev)
		}
		if ev.Kind == agents.Failed {
			h.log.Warn("plugin", "event", ev.String())
			continue
		}
		h.log.Info("plugin", "event", ev.String())
		changed = true
	}
	return changed, err
}

// reloadPlugins makes the agents of the plugins loaded now and steps a
// reload of the configuration naming them; the node installs them when it
// steps it.
func (h *Host) reloadPlugins(ctx context.Context) error {
	gen := h.mods.begin()
	infos, install, err := h.id.agentIdentities(ctx, h.Agents, h.cfg.PluginsDir, h.CAS, h.mods.generation(gen), func(s string) { h.log.Warn(s) })
	if err != nil {
		return err
	}
	if h.cfg.OnAgentKeys != nil {
		keys := map[string]string{}
		for _, a := range infos {
			keys[a.Name+".wasm"] = a.PK
		}
		h.cfg.OnAgentKeys(keys)
	}
	h.agentsInForce, h.agentsGen = infos, gen
	h.push(item{in: &protocol.Configure{At: nowMS(), Reload: true, HostPK: h.id.root.PublicHex(),
		HostCapability: h.id.hostToken, Agents: infos, Roots: h.roots, Verifiers: h.cfg.Verifiers, NoBidsGraceMS: h.configuredGrace(),
		Revoked: h.revokedNow(), Rules: protocol.Rules},
		reload: gen, install: install})
	return nil
}

// checkpointDue is the input for a CHECKPOINT now, which retires the
// threads that ended RetainEnded ago or more.
func (h *Host) checkpointDue() *protocol.CheckpointDue {
	in := &protocol.CheckpointDue{At: nowMS()}
	retain := h.cfg.RetainEnded
	if retain == 0 {
		retain = DefaultRetainEnded
	}
	if retain > 0 {
		in.RetireEndedBefore = in.At - retain.Milliseconds()
	}
	return in
}

// checkpoint has the core publish a CHECKPOINT over the trail as it stands
// (on a clean stop), and waits until it is recorded.
func (h *Host) checkpoint() {
	// Not before the loop runs: a node whose start failed has no loop to
	// record one, and its Close would wait for it in vain.
	if h.Trail == nil || h.ctx.Err() != nil || h.core == nil || !h.looping {
		return
	}
	done := make(chan struct{})
	select {
	case h.inputs <- item{in: h.checkpointDue(), done: done}:
	case <-h.ctx.Done():
		return
	}
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		h.log.Warn("checkpoint: not recorded in time")
	}
}

// OwnEnvelopesTrusted counts the envelopes this node published that the
// stream delivered back to it and that were taken as signed rather than
// verified again.
func (h *Host) OwnEnvelopesTrusted() int64 {
	if h.consumer == nil {
		return 0
	}
	return h.consumer.TrustedDeliveries()
}

// withClientsCA is pool and the certificates of file, the CA of the NATS
// clients alone (tlsgen.ClientsCAFile), when it exists: the client port
// takes what either signed, the Raft transport and the routes only what
// the cluster's CA signed.
func withClientsCA(pool *x509.CertPool, file string) (*x509.CertPool, error) {
	text, err := os.ReadFile(file)
	if errors.Is(err, fs.ErrNotExist) {
		return pool, nil
	}
	if err != nil {
		return nil, fmt.Errorf("the clients' CA: %w", err)
	}
	out := pool.Clone()
	if !out.AppendCertsFromPEM(text) {
		return nil, fmt.Errorf("the clients' CA: %s holds no PEM certificate", file)
	}
	return out, nil
}
