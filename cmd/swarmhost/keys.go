package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/canswarm/swarmhost/host/keys"
)

func newKeysCmd(e *env) *cobra.Command {
	var out string
	gen := &cobra.Command{
		Use:   "gen --out FILE",
		Short: "Generate an Ed25519 key file (mode 0600) and print its public key",
		Args:  args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			k, err := keys.Generate(nil)
			if err != nil {
				return err
			}
			if err := k.Save(out); err != nil {
				return err
			}
			fmt.Fprintln(e.stdout, k.PublicHex())
			return nil
		},
	}
	gen.Flags().StringVar(&out, "out", "", "where to write the key file (never overwritten)")
	gen.MarkFlagRequired("out")
	return group("keys", "Manage Ed25519 key files", gen)
}

// loadKey loads a key file, passing permission warnings to stderr.
func (e *env) loadKey(path string) (*keys.Key, error) {
	return keys.Load(path, func(w string) { fmt.Fprintf(e.stderr, "swarmhost: warning: %s\n", w) })
}
