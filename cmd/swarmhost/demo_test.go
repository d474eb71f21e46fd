package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/canswarm/swarmhost/host/demo"
)

// Without --plugins-from the demo takes plugins/ in the working folder
// when it holds the built plugins, else the plugins/ beside the binary's
// folder (bin/swarmhost of a built checkout, run from anywhere).
func TestFindPluginsBesideTheBinary(t *testing.T) {
	checkout := t.TempDir()
	exe := filepath.Join(checkout, "bin", "swarmhost")
	os.MkdirAll(filepath.Dir(exe), 0o755)
	os.WriteFile(exe, nil, 0o755)
	built := filepath.Join(checkout, "plugins")
	os.MkdirAll(built, 0o755)
	build := func(dir string) {
		for _, name := range demo.Plugins {
			os.WriteFile(filepath.Join(dir, name+".wasm"), []byte("\x00asm"), 0o644)
		}
	}
	build(built)

	elsewhere := t.TempDir()
	if got := findPlugins(filepath.Join(elsewhere, "plugins"), exe); got != built {
		t.Fatalf("run from a folder without plugins: %q, want the checkout's %q", got, built)
	}
	here := filepath.Join(elsewhere, "plugins")
	os.MkdirAll(here, 0o755)
	os.WriteFile(filepath.Join(here, "classifier.wasm"), []byte("\x00asm"), 0o644)
	if got := findPlugins(here, exe); got != built {
		t.Fatalf("run from a folder with some plugins built: %q, want the checkout's whole set %q", got, built)
	}
	build(here)
	if got := findPlugins(here, exe); got != here {
		t.Fatalf("run from a folder with built plugins: %q, want that folder's %q", got, here)
	}
	os.Remove(filepath.Join(built, "planner.wasm"))
	none := filepath.Join(t.TempDir(), "plugins")
	if got := findPlugins(none, exe); got != none {
		t.Fatalf("no built plugins anywhere: %q, want the default %q (the demo then says which is not built)", got, none)
	}
}

// --items reads a JSON array of strings: a byte order mark before it is
// skipped, and text that is not JSON is refused naming its line and
// column.
func TestParseItems(t *testing.T) {
	for _, c := range []struct {
		in, want, err string
	}{
		{in: `["a", "b"]`, want: `[a b]`},
		{in: "\ufeff[\"with a byte order mark\"]", want: `[with a byte order mark]`},
		{in: "  [\"é\"]\n\n", want: `[é]`},
		{in: "[\"a\",\n \"b\",\n]", err: `line 3, column 1: invalid character ']' looking for beginning of value`},
		{in: "[\"é\", x]", err: `line 1, column 7: invalid character 'x' looking for beginning of value`},
		{in: `["a", "b"`, err: `line 1, column 9: unexpected end of JSON input`},
		{in: "", err: `unexpected end of JSON input`},
		{in: `{"a": 1}`, err: `the file holds an object, not an array`},
		{in: `["a", null]`, err: `item 2 of 2 is null, not a string`},
	} {
		items, err := parseItems([]byte(c.in))
		switch {
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
			t.Errorf("parseItems(%q): error %v, want one saying %q", c.in, err, c.err)
		case c.err == "" && err != nil:
			t.Errorf("parseItems(%q): %v", c.in, err)
		case c.err == "" && fmt.Sprint(items) != c.want:
			t.Errorf("parseItems(%q) = %v, want %s", c.in, items, c.want)
		}
	}
}
