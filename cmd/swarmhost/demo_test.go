package main

import (
	"os"
	"path/filepath"
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
