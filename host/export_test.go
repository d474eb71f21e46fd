package host

import (
	"github.com/canswarm/swarmhost/consensus"
	"github.com/canswarm/swarmhost/host/cas"
)

// TakeApplied hands the loop a command as if this host's replica had
// applied it (the feed's path), for tests of what the loop makes of
// commands a single node cannot produce (a GC found in a snapshot).
func TakeApplied(h *Host, a consensus.Applied) { h.takeApplied(a) }

// WithStoreWrapper returns cfg with the node's CAS wrapped by wrap (a
// store that fails on cue).
func WithStoreWrapper(cfg Config, wrap func(cas.Store) cas.Store) Config {
	cfg.wrapStore = wrap
	return cfg
}

// WithProposeFault returns cfg with every proposal of an op failed by
// fault first (nil lets it through to the shards).
func WithProposeFault(cfg Config, fault func(op string) error) Config {
	cfg.proposeFault = fault
	return cfg
}
