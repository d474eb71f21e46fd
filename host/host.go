package host

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/canswarm/swarmhost/consensus"
	"github.com/canswarm/swarmhost/host/api"
)

// Config says how to open a Host.
type Config struct {
	// DataDir holds everything the node keeps (raft/, node.json, ...).
	DataDir string
	// Consensus configures the DECIDE shards; its Dir defaults to
	// DataDir/raft.
	Consensus consensus.Config
	// APIAddr is where the loopback API listens (default 127.0.0.1:0).
	APIAddr string
}

// Host is a running node: today the consensus shards and the API that the
// CLI reaches through the data folder's run file.
type Host struct {
	cfg       Config
	Consensus *consensus.Node
	API       *api.Server
}

// Open starts a node on cfg.DataDir and returns once it serves: every shard
// has a leader and the API listens; data/node.json then names it.
func Open(ctx context.Context, cfg Config) (*Host, error) {
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
	node, err := consensus.Open(ctx, cfg.Consensus)
	if err != nil {
		return nil, fmt.Errorf("host: %w", err)
	}
	h := &Host{cfg: cfg, Consensus: node, API: &api.Server{Consensus: node}}
	if err := h.API.Listen(cfg.APIAddr); err != nil {
		node.Close()
		return nil, fmt.Errorf("host: %w", err)
	}
	rf := api.RunFile{PID: os.Getpid(), API: h.API.URL(), RaftAddress: node.RaftAddress(), ReplicaID: node.ReplicaID()}
	if err := api.WriteRunFile(cfg.DataDir, rf); err != nil {
		h.Close()
		return nil, fmt.Errorf("host: %w", err)
	}
	return h, nil
}

// Close stops the node; its data stays.
func (h *Host) Close() error {
	api.RemoveRunFile(h.cfg.DataDir)
	err := h.API.Close()
	h.Consensus.Close()
	return err
}
