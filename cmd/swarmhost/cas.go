package main

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/spf13/cobra"

	"github.com/canswarm/swarmhost/host/api"
	"github.com/canswarm/swarmhost/host/bus"
	"github.com/canswarm/swarmhost/host/cas"
)

// casBucket is the object-store bucket the node keeps blobs in.
const casBucket = "swarm-cas"

func newCASCmd(e *env) *cobra.Command {
	put := &cobra.Command{
		Use:   "put FILE",
		Short: "Store a file's bytes and print their ref",
		Args:  args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			data, err := e.readInput(a[0])
			if err != nil {
				return err
			}
			return e.withCAS(cmd.Context(), func(s cas.Store) error {
				ref, err := s.Put(cmd.Context(), data)
				if err != nil {
					return err
				}
				fmt.Fprintln(e.stdout, ref)
				return nil
			})
		},
	}
	get := &cobra.Command{
		Use:   "get REF",
		Short: "Write a blob's bytes to stdout (exit 1 if it is missing or corrupt)",
		Args:  args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			return e.withCAS(cmd.Context(), func(s cas.Store) error {
				data, err := s.Get(cmd.Context(), a[0])
				if err != nil {
					return err
				}
				_, err = e.stdout.Write(data)
				return err
			})
		},
	}
	return group("cas", "Put and get blobs in the content-addressed store", put, get)
}

// withCAS opens the store the node uses: files under DATA/cas, or the NATS
// object store when --nats-url names a server, or when the node running on
// --data is a cluster's (its run file says so, and names its NATS server).
func (e *env) withCAS(ctx context.Context, f func(cas.Store) error) error {
	return e.withCASOf(ctx, e.dataDir, f)
}

// withCASOf is withCAS for the data folder dataDir.
func (e *env) withCASOf(ctx context.Context, dataDir string, f func(cas.Store) error) error {
	if ctx == nil {
		ctx = context.Background()
	}
	url, err := e.casNATS(dataDir)
	if err != nil {
		return err
	}
	if url == "" {
		s, err := cas.NewFileStore(filepath.Join(dataDir, "cas"))
		if err != nil {
			return err
		}
		return f(s)
	}
	secret, err := e.busSecretOf(dataDir)
	if err != nil {
		return err
	}
	tlsConfig, err := e.natsTLS(dataDir, e.natsURL == "")
	if err != nil {
		return err
	}
	nc, err := nats.Connect(url, bus.SecretOption(secret), bus.TLSOption(tlsConfig))
	hints := secretHint(err, secret) + bus.TLSHint(err, tlsConfig != nil)
	if err != nil && e.natsURL == "" {
		return fmt.Errorf("connect to NATS at %s, which the run file of the node on %s names as its CAS (the cluster's object store; the node may have stopped: give --nats-url of a running server of the cluster): %w%s",
			bus.Redacted(url), dataDir, err, hints)
	}
	if err != nil {
		return fmt.Errorf("connect to NATS at %s: %w%s", bus.Redacted(url), err, hints)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return fmt.Errorf("JetStream at %s: %w", bus.Redacted(url), err)
	}
	s, err := cas.NewObjectStore(ctx, js, casBucket)
	if err != nil {
		return err
	}
	return f(s)
}

// casNATS is the NATS server whose object store is the CAS: --nats-url's,
// or that of the node running on --data when its CAS is a cluster's
// (a blob put in DATA/cas alone is one no other host of the cluster reads); "" for DATA/cas.
func (e *env) casNATS(dataDir string) (string, error) {
	if e.natsURL != "" {
		return e.natsURL, nil
	}
	rf, err := api.ReadRunFile(dataDir)
	if err != nil && (rf.SharedCAS || api.SharedCASMarked(dataDir)) {
		// A cluster's host that crashed or stopped: its blobs belong in
		// the cluster's store, which DATA/cas is not.
		return "", fmt.Errorf("%w; its CAS is its cluster's NATS object store: give --nats-url of a running server of the cluster", err)
	}
	if err != nil || !rf.SharedCAS {
		return "", nil // no node running there, or one on DATA/cas
	}
	if rf.NATSURL == "" {
		return "", fmt.Errorf("the node running on %s keeps its CAS in its external NATS server's object store: pass that server's --nats-url", dataDir)
	}
	return rf.NATSURL, nil
}
