package main

import (
	"context"
	"fmt"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/spf13/cobra"

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
// object store when --nats-url names a server.
func (e *env) withCAS(ctx context.Context, f func(cas.Store) error) error {
	if ctx == nil {
		ctx = context.Background()
	}
	if e.natsURL == "" {
		s, err := cas.NewFileStore(e.path("cas"))
		if err != nil {
			return err
		}
		return f(s)
	}
	nc, err := nats.Connect(e.natsURL)
	if err != nil {
		return fmt.Errorf("connect to NATS at %s: %w", e.natsURL, err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return fmt.Errorf("JetStream at %s: %w", e.natsURL, err)
	}
	s, err := cas.NewObjectStore(ctx, js, casBucket)
	if err != nil {
		return err
	}
	return f(s)
}
