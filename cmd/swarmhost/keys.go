package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

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
	show := &cobra.Command{
		Use:   "show [FILE...]",
		Short: "Print the public keys of a data folder (its host, client and agents) or of key files",
		Long: `Print public keys without starting a node. With no FILE, the keys of the data
folder (--data): its host's root key (what other hosts --trust), its client
key, and one line per agent key in the form run prints ("agent NAME.wasm:
KEY": what other hosts name in --verifiers). A node makes its keys at its
first start, and an agent's when its plugin first loads (the key stays when
the plugin is removed, for its plugin's return; characters other than
letters, digits, '.', '_' and '-' in a plugin's name are '_' in its key's);
keys gen --out DATA/keys/agent-NAME.json makes one beforehand. With FILEs,
each file's public key, one per line.`,
		Args: args(cobra.ArbitraryArgs),
		RunE: func(cmd *cobra.Command, files []string) error {
			if len(files) > 0 {
				for _, f := range files {
					k, err := e.loadKey(f)
					if err != nil {
						return err
					}
					fmt.Fprintln(e.stdout, k.PublicHex())
				}
				return nil
			}
			return e.showDataKeys()
		},
	}
	return group("keys", "Manage Ed25519 key files", gen, show)
}

// showDataKeys prints the keys of the data folder's DATA/keys.
func (e *env) showDataKeys() error {
	dir := filepath.Join(e.dataDir, "keys")
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("no keys in data folder %s (is --data right?): a node makes them at its first start (swarmhost --data %s run)",
			e.dataDir, e.dataDir)
	}
	store, err := keys.NewStore(dir, func(w string) { fmt.Fprintf(e.stderr, "swarmhost: warning: %s\n", w) })
	if err != nil {
		return err
	}
	names, err := store.Names()
	if err != nil {
		return err
	}
	var lines, agents []string
	for _, label := range []string{"root", "client"} {
		k, err := store.Get(label)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		} else if err != nil {
			return err
		}
		what := map[string]string{"root": "host", "client": "client"}[label]
		lines = append(lines, fmt.Sprintf("%s: %s", what, k.PublicHex()))
	}
	for _, name := range names {
		agent, ok := strings.CutPrefix(name, "agent-")
		if !ok {
			continue
		}
		k, err := store.Get(name)
		if err != nil {
			return err
		}
		agents = append(agents, fmt.Sprintf("agent %s.wasm: %s", agent, k.PublicHex()))
	}
	if len(lines)+len(agents) == 0 {
		return fmt.Errorf("no keys in %s: a node makes them at its first start (swarmhost --data %s run)", dir, e.dataDir)
	}
	for _, l := range append(lines, agents...) {
		fmt.Fprintln(e.stdout, l)
	}
	return nil
}

// loadKey loads a key file, passing permission warnings to stderr.
func (e *env) loadKey(path string) (*keys.Key, error) {
	return keys.Load(path, func(w string) { fmt.Fprintf(e.stderr, "swarmhost: warning: %s\n", w) })
}
