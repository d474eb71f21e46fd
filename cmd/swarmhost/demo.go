package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/canswarm/swarmhost/host/demo"
)

func newDemoCmd(e *env) *cobra.Command {
	var itemsFile, pluginsSrc string
	c := &cobra.Command{
		Use:   "demo [--data D] [--items FILE]",
		Short: "Run a whole NEED -> FINALIZE flow on a node with the first-party agents and print the labels",
		Long: `Start a node in a fresh temporary folder (or --data) with two classifier
workers, three verifiers and a planner (copies of the first-party plugins,
from --plugins-from, built by 'make plugins'), submit a NEED "classify these
items" with k = 3 (ten built-in texts, or --items FILE: a JSON array of
strings), print each step as it happens and the final labels, and verify the
audit trail.`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			var items []string
			if itemsFile != "" {
				b, err := os.ReadFile(itemsFile)
				if err != nil {
					return usageError{fmt.Errorf("--items: %w", err)}
				}
				if items, err = parseItems(b); err != nil {
					return usageError{fmt.Errorf("--items %s: want a JSON array of strings: %w", itemsFile, err)}
				}
				if len(items) == 0 {
					return usageError{fmt.Errorf("--items %s: the array is empty: there is nothing to classify", itemsFile)}
				}
			}
			if !cmd.Flags().Changed("plugins-from") {
				exe, _ := os.Executable()
				pluginsSrc = findPlugins(pluginsSrc, exe)
			}
			dir := e.dataDir
			if !cmd.Flags().Changed("data") {
				var err error
				if dir, err = os.MkdirTemp("", "swarmhost-demo-"); err != nil {
					return err
				}
			}
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
			defer stop()
			fmt.Fprintf(e.stdout, "swarmhost demo in %s\n", dir)
			if _, err := demo.Run(ctx, demo.Options{DataDir: dir, PluginsSrc: pluginsSrc, Items: items, Out: e.stdout}); err != nil {
				return err
			}
			if !cmd.Flags().Changed("data") {
				// The compiled agents (~80 MB) are a cache: a temporary
				// folder kept for its trail need not keep them.
				os.RemoveAll(filepath.Join(dir, "wasm-cache"))
			}
			fmt.Fprintf(e.stdout, "demo: ok\nthe data folder is kept: swarmhost --data %s audit verify\n", dir)
			return nil
		},
	}
	c.Flags().StringVar(&itemsFile, "items", "", "a JSON array of strings to classify (default: ten built-in texts)")
	c.Flags().StringVar(&pluginsSrc, "plugins-from", "plugins",
		"the folder holding the built first-party plugins (when not given: plugins/ here, else the plugins/ beside the binary's folder)")
	return c
}

// findPlugins is where the built first-party plugins are when
// --plugins-from is not given: def (plugins/ in the working folder, as
// make demo runs it) when it holds them all, else the plugins/ folder beside
// the binary's (bin/swarmhost run from anywhere in a built checkout finds
// the checkout's plugins/). When neither holds them def is returned, and
// the demo says which plugin is not built.
func findPlugins(def, exe string) string {
	candidates := []string{def}
	if exe, err := filepath.EvalSymlinks(exe); err == nil && exe != "" {
		candidates = append(candidates, filepath.Join(filepath.Dir(filepath.Dir(exe)), "plugins"))
	}
	for _, dir := range candidates {
		if holdsPlugins(dir) {
			return dir
		}
	}
	return def
}

// holdsPlugins reports whether dir holds every built first-party plugin
// the demo installs.
func holdsPlugins(dir string) bool {
	for _, name := range demo.Plugins {
		if _, err := os.Stat(filepath.Join(dir, name+".wasm")); err != nil {
			return false
		}
	}
	return true
}

// checkJSON says where b is not JSON, by line and column.
func checkJSON(b []byte) error {
	if json.Valid(b) {
		return nil
	}
	var v any
	err := json.Unmarshal(b, &v)
	var syntax *json.SyntaxError
	if errors.As(err, &syntax) {
		line, col := lineColumn(b, syntax.Offset)
		return fmt.Errorf("line %d, column %d: %w", line, col, err)
	}
	return err
}

// parseItems reads a JSON array of strings, naming the first element that
// is not one.
func parseItems(b []byte) ([]string, error) {
	b = bytes.TrimPrefix(b, []byte("\ufeff")) // a byte order mark some editors write
	if err := checkJSON(b); err != nil {
		return nil, err
	}
	if t := bytes.TrimLeft(b, " \t\r\n"); t[0] != '[' {
		return nil, fmt.Errorf("the file holds %s, not an array", jsonKind(t))
	}
	var raw []json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, err
	}
	items := make([]string, len(raw))
	for i, r := range raw {
		if len(r) == 0 || r[0] != '"' {
			return nil, fmt.Errorf("item %d of %d is %s, not a string", i+1, len(raw), jsonKind(r))
		}
		if err := json.Unmarshal(r, &items[i]); err != nil {
			return nil, fmt.Errorf("item %d of %d: %w", i+1, len(raw), err)
		}
	}
	return items, nil
}

// lineColumn is where the byte at offset is (or the byte before it, as a
// json.SyntaxError's offset counts the byte it stopped after), 1-based,
// counting columns in characters.
func lineColumn(b []byte, offset int64) (line, col int) {
	offset = min(max(offset-1, 0), int64(len(b)))
	before := b[:offset]
	line = 1 + bytes.Count(before, []byte("\n"))
	col = 1 + utf8.RuneCount(before[bytes.LastIndexByte(before, '\n')+1:])
	return line, col
}

// jsonKind names the kind of a JSON value by its first byte.
func jsonKind(r json.RawMessage) string {
	switch {
	case len(r) == 0:
		return "nothing"
	case r[0] == '{':
		return "an object"
	case r[0] == '[':
		return "an array"
	case r[0] == 't' || r[0] == 'f':
		return "a boolean"
	case r[0] == 'n':
		return "null"
	case r[0] == '"':
		return "a string"
	}
	return "a number"
}
