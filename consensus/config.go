package consensus

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/canswarm/swarmhost/internal/atomicfile"
	"github.com/lni/dragonboat/v4/config"
)

// Buckets is the number of NEED buckets (PROTOCOL.md section 9).
const Buckets = 256

// DefaultShards is the shard count of a cluster created without one: 16
// single-replica shards elect in a fraction of a second on 2 cores, 256
// take seconds and several times the memory (docs/PERFORMANCE.md).
const DefaultShards = 16

// Config says how to open a [Node].
type Config struct {
	// Dir holds the node's Raft logs and snapshots (and its cluster.json).
	Dir string
	// ReplicaID is this host's replica id in every shard, from 1. Default 1.
	ReplicaID uint64
	// RaftAddress is the host:port this node's Raft transport listens on and
	// is known by. A single host may leave it empty: a free loopback port is
	// chosen at creation and kept in cluster.json.
	RaftAddress string
	// Peers lists every initial member of the cluster, this host included,
	// by replica id. Empty: a single-replica cluster of this host alone.
	// Ignored when the node's data already exists (the members are in the
	// Raft log) and when Join is set.
	Peers map[uint64]string
	// Join starts the replicas as new members of a running cluster that has
	// already added this host (see [Node.AddHost]).
	Join bool
	// Shards is the number of Raft shards the 256 buckets map onto, a power
	// of two from 1 to 256; fixed when the cluster is created (0: the stored
	// count, or DefaultShards for a new cluster).
	Shards int
	// RTT is the expected round trip between hosts; election and heartbeat
	// timeouts are multiples of it. Default 20 ms (a single host or a LAN).
	RTT time.Duration
	// ElectionRTT and HeartbeatRTT are those multiples (default 10 and 1).
	ElectionRTT, HeartbeatRTT uint64
	// SnapshotEntries: a shard snapshots (and compacts its log) every so many
	// applied entries. Default 10,000.
	SnapshotEntries uint64
	// Transport, when set, replaces dragonboat's TCP transport (fault
	// injection in tests).
	Transport config.TransportFactory
	// ReadyTimeout bounds how long Open waits for every shard to have a
	// leader: 0 is 30 s; a negative value returns as soon as the replicas
	// started (use WaitReady then).
	ReadyTimeout time.Duration
	// DeploymentID separates clusters sharing a network. Default 1.
	DeploymentID uint64
	// TLS, when set, makes the Raft transport mutual TLS: every host
	// presents its certificate and takes only peers whose certificate the
	// CA signed (and whose name or IP is the address it dials). Nil: plain
	// TCP, as open as its port.
	TLS *TLSFiles
}

// TLSFiles are the PEM files of a host's mutual TLS.
type TLSFiles struct {
	CAFile   string // the CA every host's certificate is signed by
	CertFile string // this host's certificate, for its Raft address
	KeyFile  string // its private key
}

func (c *Config) withDefaults() {
	if c.ReplicaID == 0 {
		c.ReplicaID = 1
	}
	if c.RTT == 0 {
		c.RTT = 20 * time.Millisecond
	}
	if c.ElectionRTT == 0 {
		c.ElectionRTT = 10
	}
	if c.HeartbeatRTT == 0 {
		c.HeartbeatRTT = 1
	}
	if c.SnapshotEntries == 0 {
		c.SnapshotEntries = 10_000
	}
	if c.DeploymentID == 0 {
		c.DeploymentID = 1
	}
}

// clusterFile is what a node keeps about the cluster it belongs to, written
// once at creation: the bucket table must never change under a running
// cluster's data without a migration.
type clusterFile struct {
	V           int      `json:"v"`
	Shards      int      `json:"shards"`
	Table       []uint64 `json:"table"` // bucket -> shard id, 256 entries
	ReplicaID   uint64   `json:"replica_id"`
	RaftAddress string   `json:"raft_address"`
}

const clusterFileName = "cluster.json"

// ValidShardCount reports whether n is a power of two from 1 to 256.
func ValidShardCount(n int) bool { return n >= 1 && n <= Buckets && n&(n-1) == 0 }

// DefaultTable maps the 256 buckets onto n shards (ids 1..n) in contiguous
// ranges: bucket b goes to shard 1 + b*n/256.
func DefaultTable(n int) []uint64 {
	t := make([]uint64, Buckets)
	for b := range t {
		t[b] = uint64(1 + b*n/Buckets)
	}
	return t
}

// loadOrCreateCluster reads Dir/cluster.json, or writes it for a new node.
// It refuses a configuration that contradicts what the data was created
// with.
func loadOrCreateCluster(c *Config) (*clusterFile, error) {
	path := filepath.Join(c.Dir, clusterFileName)
	b, err := os.ReadFile(path)
	switch {
	case err == nil:
		var cf clusterFile
		if err := json.Unmarshal(b, &cf); err != nil {
			return nil, fmt.Errorf("consensus: %s: %w", path, err)
		}
		if err := cf.check(); err != nil {
			return nil, fmt.Errorf("consensus: %s: %w", path, err)
		}
		if c.Shards != 0 && c.Shards != cf.Shards {
			return nil, fmt.Errorf("consensus: %s: the cluster was created with %d shards; %d asked for (the bucket table is fixed at creation)", path, cf.Shards, c.Shards)
		}
		if c.ReplicaID != cf.ReplicaID {
			return nil, fmt.Errorf("consensus: %s: this data belongs to replica %d, not %d", path, cf.ReplicaID, c.ReplicaID)
		}
		if c.RaftAddress != "" && c.RaftAddress != cf.RaftAddress {
			return nil, fmt.Errorf("consensus: %s: this data listens on %s, not %s (a replica's address is fixed)", path, cf.RaftAddress, c.RaftAddress)
		}
		return &cf, nil
	case !errors.Is(err, os.ErrNotExist):
		return nil, fmt.Errorf("consensus: %w", err)
	}
	n := c.Shards
	if n == 0 && c.Join {
		return nil, fmt.Errorf("consensus: joining a cluster needs its shard count (Config.Shards, --shards; 'swarmhost consensus status' on a member shows it)")
	}
	if n == 0 {
		n = DefaultShards
	}
	if !ValidShardCount(n) {
		return nil, fmt.Errorf("consensus: shard count %d: must be a power of two from 1 to %d", n, Buckets)
	}
	addr := c.RaftAddress
	if addr == "" {
		if addr, err = freeLoopbackAddress(); err != nil {
			return nil, fmt.Errorf("consensus: choosing a raft address: %w", err)
		}
	}
	cf := &clusterFile{V: 1, Shards: n, Table: DefaultTable(n), ReplicaID: c.ReplicaID, RaftAddress: addr}
	if err := os.MkdirAll(c.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("consensus: %w", err)
	}
	out, _ := json.MarshalIndent(cf, "", " ")
	if err := atomicfile.Write(path, append(out, '\n'), atomicfile.Options{NoReplace: true}); err != nil {
		return nil, fmt.Errorf("consensus: writing %s: %w", path, err)
	}
	return cf, nil
}

func (cf *clusterFile) check() error {
	if cf.V != 1 {
		return fmt.Errorf("version %d not supported", cf.V)
	}
	if !ValidShardCount(cf.Shards) {
		return fmt.Errorf("shards %d: not a power of two from 1 to %d", cf.Shards, Buckets)
	}
	if len(cf.Table) != Buckets {
		return fmt.Errorf("table has %d entries, want %d", len(cf.Table), Buckets)
	}
	for b, s := range cf.Table {
		if s < 1 || s > uint64(cf.Shards) {
			return fmt.Errorf("table[%d] = %d: not a shard id from 1 to %d", b, s, cf.Shards)
		}
	}
	if cf.ReplicaID == 0 || cf.RaftAddress == "" {
		return fmt.Errorf("replica_id and raft_address are required")
	}
	return nil
}

// freeLoopbackAddress asks the kernel for a free loopback port.
func freeLoopbackAddress() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// ParsePeers reads "1=host:port,2=host:port,..." into a member map.
func ParsePeers(s string) (map[uint64]string, error) {
	peers := map[uint64]string{}
	if strings.TrimSpace(s) == "" {
		return peers, nil
	}
	for _, part := range strings.Split(s, ",") {
		id, addr, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok || addr == "" {
			return nil, fmt.Errorf("peer %q: want ID=HOST:PORT", part)
		}
		n, err := strconv.ParseUint(id, 10, 64)
		if err != nil || n == 0 {
			return nil, fmt.Errorf("peer %q: the id must be a positive integer", part)
		}
		if _, _, err := net.SplitHostPort(addr); err != nil {
			return nil, fmt.Errorf("peer %q: %w", part, err)
		}
		if _, dup := peers[n]; dup {
			return nil, fmt.Errorf("peer %q: id %d named twice", part, n)
		}
		peers[n] = addr
	}
	return peers, nil
}

// FormatPeers writes a member map as ParsePeers reads it, by id.
func FormatPeers(peers map[uint64]string) string {
	ids := make([]uint64, 0, len(peers))
	for id := range peers {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	parts := make([]string, len(ids))
	for i, id := range ids {
		parts[i] = fmt.Sprintf("%d=%s", id, peers[id])
	}
	return strings.Join(parts, ",")
}
