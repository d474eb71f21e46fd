package main

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/canswarm/swarmhost/abi/envelope"
	"github.com/canswarm/swarmhost/consensus"
	"github.com/canswarm/swarmhost/host"
	"github.com/canswarm/swarmhost/host/agents"
	"github.com/canswarm/swarmhost/host/api"
	"github.com/canswarm/swarmhost/host/bus"
)

// minPluginsPoll: a shorter poll reads the folder's entries often enough
// to cost a core.
const minPluginsPoll = 100 * time.Millisecond

func newRunCmd(e *env) *cobra.Command {
	var (
		raftAddr, peers, apiAddr, metricsAddr string
		clusterTLSDir                         string
		pluginsDir, natsListen                string
		natsCluster, natsRoutes               string
		trust, verifiers, chaos               string
		nodeID                                uint64
		shards                                int
		join                                  bool
		rtt, checkpointEvery                  time.Duration
		reconcileEvery                        time.Duration
		retainEnded, busMaxAge                time.Duration
		busDedup, pluginsPoll                 time.Duration
		noBidsGrace                           time.Duration
	)
	c := &cobra.Command{
		Use:   "run [--data D] [--raft-addr HOST:PORT --node-id N --peers 1=HOST:PORT,2=...]",
		Short: "Run a node (bus, consensus, CAS, audit, agents, capsules) on --data; prints 'ready' when it serves",
		Long: `Run a node in the data folder (--data). Alone it is a single-replica cluster on
embedded defaults (a free loopback Raft port is chosen once and kept). With
--raft-addr, --node-id and --peers it is one member of a cluster of three or
more hosts: every host gets the same --peers list (itself included) the first
time it starts; later starts read the members from the data. A host added to
a running cluster (swarmhost consensus add-host on a member) starts with --join.

The line 'ready' is printed once every shard has a leader and the API serves;
SIGINT or SIGTERM stops the node cleanly. The shard count (--shards, a power
of two from 1 to 256, default 16) is fixed when the data is created.`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			members, err := consensus.ParsePeers(peers)
			if err != nil {
				return usageError{fmt.Errorf("--peers: %w", err)}
			}
			if len(members) > 0 && raftAddr == "" {
				return usageError{fmt.Errorf("--peers needs --raft-addr (this host's address in the list)")}
			}
			if busDedup < 0 || busDedup > 0 && busDedup < bus.MinDedupWindow {
				return usageError{fmt.Errorf("--bus-dedup-window %v: at least %v", busDedup, bus.MinDedupWindow)}
			}
			window := cmp.Or(busDedup, bus.DefaultDedupWindow)
			if busMaxAge < 0 || busMaxAge > 0 && busMaxAge < window {
				return usageError{fmt.Errorf("--bus-max-age %v: at least the stream's %v dedup window, or 0 to keep every envelope",
					busMaxAge, window)}
			}
			if err := api.CheckLoopback(apiAddr); err != nil {
				return usageError{fmt.Errorf("--api-addr: %w", err)}
			}
			if !consensus.ValidShardCount(shards) && shards != 0 {
				return usageError{fmt.Errorf("--shards %d: a power of two from 1 to %d", shards, consensus.Buckets)}
			}
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			var printedMu sync.Mutex
			printed := map[string]string{} // the agents' keys printed: plugin file -> key
			secret, err := e.busSecret()
			if err != nil {
				return err
			}
			clusterTLS, err := clusterTLSFiles(e.dataDir, clusterTLSDir)
			if err != nil {
				return err
			}
			if clusterTLS != nil {
				warning, err := checkTLSExpiry(clusterTLS, time.Now())
				if err != nil {
					return err
				}
				if warning != "" {
					fmt.Fprintf(e.stderr, "swarmhost: %s\n", warning)
				}
			}
			var natsTLS *tls.Config // an external server's (--nats-tls)
			if e.natsURL != "" {
				if natsTLS, err = e.natsTLS(e.dataDir, false); err != nil {
					return err
				}
			}
			cfg := host.Config{DataDir: e.dataDir, APIAddr: apiAddr, MetricsAddr: metricsAddr, PluginsDir: pluginsDir, NATSURL: e.natsURL,
				BusSecret: secret, NATSTLS: natsTLS,
				NATSListen: natsListen, Consensus: consensus.Config{
					ReplicaID: nodeID, RaftAddress: raftAddr, Peers: members, Join: join, Shards: shards, RTT: rtt, TLS: clusterTLS,
					ReadyTimeout: 2 * time.Minute,
				}, CheckpointEvery: checkpointEvery, ReconcileEvery: reconcileEvery, RetainEnded: retainEnded,
				BusMaxAge: busMaxAge, BusDedupWindow: busDedup, PluginsPoll: pluginsPoll, NoBidsGrace: noBidsGrace,
				OnPluginEvent: func(ev agents.Event) {
					stamp := time.Now().Format(time.DateTime)
					switch {
					case ev.Err != nil && strings.HasSuffix(ev.File, ".wasm"):
						fmt.Fprintf(e.stderr, "%s swarmhost: plugin %s failed to load (not run; while the node runs, a version loaded before this file changed keeps serving): %v\n", stamp, ev.File, ev.Err)
					case ev.Err != nil:
						fmt.Fprintf(e.stderr, "%s swarmhost: plugins %s: %v\n", stamp, ev.File, ev.Err)
					default:
						fmt.Fprintf(e.stdout, "%s plugin %s %s (%s)\n", stamp, ev.File, ev.Kind, ev.Name)
					}
				},
				OnRevoked: func(list []string) {
					fmt.Fprintf(e.stdout, "%s revocation list %s: %d keys and token refs refused\n", time.Now().Format(time.DateTime),
						filepath.Join(e.dataDir, host.RevokedFileName), len(list))
				},
				OnRevokedError: func(err error) {
					fmt.Fprintf(e.stderr, "%s swarmhost: %v\n", time.Now().Format(time.DateTime), err)
				},
				OnAgentKeys: func(keys map[string]string) {
					// A plugin added while the node runs: its key, as a
					// start prints it.
					printedMu.Lock()
					defer printedMu.Unlock()
					files := make([]string, 0, len(keys))
					for file := range keys {
						files = append(files, file)
					}
					sort.Strings(files)
					for _, file := range files {
						if printed[file] != keys[file] {
							fmt.Fprintf(e.stdout, "agent %s: %s\n", file, keys[file])
							printed[file] = keys[file]
						}
					}
				}}
			switch {
			case pluginsPoll == 0 && cmd.Flags().Changed("plugins-poll"):
				cfg.PluginsPoll = -1 // 0 on the command line: never
			case pluginsPoll < 0 || pluginsPoll > 0 && pluginsPoll < minPluginsPoll:
				return usageError{fmt.Errorf("--plugins-poll %s: give 0 (read the folder at start only) or at least %s", pluginsPoll, minPluginsPoll)}
			}
			switch {
			case noBidsGrace < 0 || noBidsGrace > 0 && noBidsGrace < time.Millisecond:
				return usageError{fmt.Errorf("--no-bids-grace %s: give 0 (no wait) or at least 1ms", noBidsGrace)}
			case noBidsGrace == 0 && cmd.Flags().Changed("no-bids-grace"):
				cfg.NoBidsGrace = -1 // 0 on the command line: no wait, in a cluster too
			}
			if len(members) > 0 || join {
				// Hosts talk over a network: give elections more room than
				// the single-host default.
				if cfg.Consensus.RTT == 0 {
					cfg.Consensus.RTT = 50 * time.Millisecond
				}
			}
			if natsCluster != "" {
				cfg.NATSCluster = &bus.ClusterConfig{ServerName: fmt.Sprintf("swarmhost-%d", nodeID), Listen: natsCluster,
					Routes: splitList(natsRoutes)}
			}
			if chaos != "" {
				c, err := bus.ParseChaos(chaos)
				if err != nil {
					return usageError{fmt.Errorf("--chaos: %w", err)}
				}
				cfg.Chaos = c
			}
			cfg.Roots, cfg.Verifiers = splitList(trust), splitList(verifiers)
			for _, pk := range cfg.Roots {
				if !envelope.IsPublicKey(pk) {
					return usageError{fmt.Errorf("--trust: %q is not a public key", pk)}
				}
			}
			for _, pk := range cfg.Verifiers {
				if !envelope.IsPublicKey(pk) {
					return usageError{fmt.Errorf("--verifiers: %q is not a public key", pk)}
				}
			}
			start := time.Now()
			var slow *time.Timer
			if peers != "" || join {
				// A cluster's first start waits for the other hosts, silently
				// but for the consensus library's connection errors.
				slow = time.AfterFunc(5*time.Second, func() {
					fmt.Fprintln(e.stderr, "swarmhost: still starting: waiting for every shard to have a leader (a majority of the cluster's hosts must run: start the others; a host that restarts catches up first)")
				})
			}
			h, err := host.Open(ctx, cfg)
			if slow != nil {
				slow.Stop()
			}
			if err != nil {
				if rf, rerr := api.ReadRunFile(e.dataDir); (errors.Is(err, host.ErrDataInUse) || errors.Is(err, bus.ErrStoreInUse)) && rerr == nil {
					return fmt.Errorf("a node already runs on --data %s (pid %d, api %s): stop it, or give another --data: %w",
						e.dataDir, rf.PID, rf.API, err)
				}
				return err
			}
			defer h.Close()
			n := h.Consensus
			fmt.Fprintf(e.stdout, "node %d: %d shards, raft %s, api %s, data %s (%s)\n", n.ReplicaID(), n.Shards(),
				n.RaftAddress(), h.API.URL(), e.dataDir, time.Since(start).Round(time.Millisecond))
			if h.Observe != nil {
				fmt.Fprintf(e.stdout, "metrics %s/metrics\n", h.Observe.URL())
			}
			if secret != "" {
				fmt.Fprintln(e.stdout, "bus: clients and routes need the bus secret")
			}
			if clusterTLS != nil {
				what := "the Raft transport"
				switch {
				case e.natsURL != "": // an external server's TLS is --nats-tls's
				case natsCluster != "":
					what += ", the NATS routes and the NATS client port"
				default:
					what += " and the NATS client port"
				}
				fmt.Fprintf(e.stdout, "cluster TLS: %s, certificates in %s\n", what, filepath.Dir(clusterTLS.CertFile))
			}
			agents := h.AgentKeys()
			printedMu.Lock()
			for file, pk := range agents {
				fmt.Fprintf(e.stdout, "agent %s: %s\n", file, pk)
				printed[file] = pk
			}
			printedMu.Unlock()
			if len(agents) == 0 {
				fmt.Fprintf(e.stderr, "swarmhost: no agent in the plugins folder %s: this node bids on and verifies nothing itself (--plugins DIR names a folder of .wasm agents)\n",
					cmp.Or(pluginsDir, filepath.Join(e.dataDir, "plugins")))
			}
			if n := len(h.Revoked()); n > 0 {
				fmt.Fprintf(e.stdout, "revocation list %s: %d keys and token refs refused\n", filepath.Join(e.dataDir, host.RevokedFileName), n)
			}
			fmt.Fprintln(e.stdout, "ready")
			select {
			case <-ctx.Done():
			case <-h.Halted():
				return h.Err() // the node stopped itself: exit 1 with the reason
			}
			fmt.Fprintln(e.stdout, "stopping")
			return nil
		},
	}
	f := c.Flags()
	f.StringVar(&raftAddr, "raft-addr", "", "this host's Raft address HOST:PORT (default: a free loopback port, chosen once)")
	f.StringVar(&clusterTLSDir, "cluster-tls", "", "a folder with ca.crt, host.crt and host.key (PEM) for mutual TLS between the hosts' Raft transports and NATS routes, and on the embedded NATS server's client port (default DATA/cluster-tls when it exists)")
	f.Uint64Var(&nodeID, "node-id", 1, "this host's replica id in every shard")
	f.StringVar(&peers, "peers", "", "the cluster's initial members: 1=HOST:PORT,2=HOST:PORT,... (this host included)")
	f.BoolVar(&join, "join", false, "join a running cluster that already added this host (consensus add-host)")
	f.IntVar(&shards, "shards", 0, "Raft shards the 256 buckets map onto, fixed at creation (default 16)")
	f.StringVar(&apiAddr, "api-addr", "127.0.0.1:0", "where the node's API listens (loopback only: it has no authentication)")
	f.StringVar(&metricsAddr, "metrics-addr", "", "also serve GET /metrics and /healthz (read-only) here, on any address, for a scraper elsewhere")
	f.StringVar(&pluginsDir, "plugins", "", "the folder of agent plugins (default DATA/plugins)")
	f.DurationVar(&pluginsPoll, "plugins-poll", host.DefaultPluginsPoll, "look this often for plugins added to, replaced in or removed from the plugins folder, and load them without a restart (0: read the folder at start only)")
	f.StringVar(&natsListen, "nats-listen", "", "the embedded NATS server's client address (default a free loopback port)")
	f.StringVar(&natsCluster, "nats-cluster", "", "join the embedded NATS server to a cluster: its route address HOST:PORT")
	f.StringVar(&natsRoutes, "nats-routes", "", "the other NATS servers' routes: nats-route://HOST:PORT,...")
	f.StringVar(&chaos, "chaos", "", "inject bus faults for testing: seed=N,drop=P,dup=P,delay=P,reorder=P,maxdelay=D")
	f.StringVar(&trust, "trust", "", "other hosts' root public keys whose capability tokens this host accepts, comma-separated")
	f.StringVar(&verifiers, "verifiers", "", "verifier agents of other hosts (their public keys, as their host prints them at start), comma-separated: added to this host's verifier pool, so that a NEED's n verifiers may come from across the swarm")
	f.DurationVar(&checkpointEvery, "checkpoint-every", 0, "write a CHECKPOINT this often while running, when anything came since the last or a NEED is due to retire (default 10m; a negative value: only on a clean stop)")
	f.DurationVar(&reconcileEvery, "reconcile-every", 0, "offer the other hosts a RECONCILE of the plan this often when it changed or another host's differs, and every 12th time regardless (default 5m; a negative value: never)")
	f.DurationVar(&retainEnded, "retain-ended", 0, "keep a finished NEED whole in memory this long; the next checkpoint keeps only its summary and has its shard forget it (default 10m; a negative value: forever)")
	f.DurationVar(&busMaxAge, "bus-max-age", 0, "drop envelopes older than this from the bus stream, at least the dedup window (default: keep all; the audit trail is the record)")
	f.DurationVar(&busDedup, "bus-dedup-window", 0, "how long the bus stream remembers envelope ids to store a republished one once (default 24h; the server keeps ~120 B per envelope for it; receivers drop duplicates anyway)")
	f.DurationVar(&noBidsGrace, "no-bids-grace", 0, "after a bid window that closed with no eligible bid, wait this long more before releasing the epoch (no_bids), so that a host of the cluster that did receive bids decides it first (default 2s in a cluster, none alone; 0: no wait)")
	f.DurationVar(&rtt, "rtt", 0, "expected round trip between hosts; elections take 10-20 of them (default 20ms alone, 50ms in a cluster)")
	return c
}
