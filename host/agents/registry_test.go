package agents_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/canswarm/swarmhost/host/agents"
	"github.com/canswarm/swarmhost/host/wasm"
)

func copyModule(t *testing.T, dir, from, to string) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("../wasm/testdata", from))
	if err != nil {
		t.Fatal(err)
	}
	// Write then rename, as a deployment would: the registry never reads a
	// half-written file.
	tmp := filepath.Join(dir, ".tmp-"+to)
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, to)); err != nil {
		t.Fatal(err)
	}
}

func kinds(events []agents.Event) map[string]agents.EventKind {
	out := map[string]agents.EventKind{}
	for _, e := range events {
		out[e.File] = e.Kind
	}
	return out
}

// newRuntime is a runtime for one test, closed when it ends.
func newRuntime(t *testing.T) *wasm.Runtime {
	t.Helper()
	rt, err := wasm.NewRuntime(context.Background(), wasm.Config{PoolSize: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rt.Close(context.Background()) })
	return rt
}

const input = `{"envelope":{},"self_pk":"","thread":{"state":"OPEN","epoch":1,"fence":0}}`

// Add, replace and remove plugins in a running registry; a broken file is
// reported by name and reason and skipped while the others serve.
func TestHotReload(t *testing.T) {
	ctx := context.Background()
	rt := newRuntime(t)
	dir := t.TempDir()
	copyModule(t, dir, "good.wasm", "a.wasm")
	if err := os.WriteFile(filepath.Join(dir, "broken.wasm"), []byte("not wasm"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("ignored"), 0o644); err != nil {
		t.Fatal(err)
	}
	reg, events, err := agents.Open(ctx, dir, rt, agents.Options{PollInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close(ctx)
	k := kinds(events)
	if k["a.wasm"] != agents.Loaded || k["broken.wasm"] != agents.Failed || len(k) != 2 {
		t.Fatalf("first scan: %v", events)
	}
	for _, e := range events {
		if e.File == "broken.wasm" && e.Err == nil {
			t.Fatal("a failed load carries no reason")
		}
	}

	call := func(name string) error {
		m, release, err := reg.Acquire(name)
		if err != nil {
			return err
		}
		defer release()
		_, err = m.Handle(ctx, []byte(input), 1_000_000, nil)
		return err
	}
	if err := call("a.wasm"); err != nil {
		t.Fatal(err)
	}
	if err := call("good"); err != nil { // by manifest name too
		t.Fatal(err)
	}

	// A scan with nothing changed reports nothing, not even the broken file again.
	if events, _ := reg.Rescan(ctx); len(events) != 0 {
		t.Fatalf("unchanged folder: %v", events)
	}

	// Add.
	copyModule(t, dir, "good.wasm", "b.wasm")
	if k := kinds(mustRescan(t, reg)); k["b.wasm"] != agents.Loaded || len(k) != 1 {
		t.Fatalf("add: %v", k)
	}

	// Replace a.wasm while a call holds the old version: the old one keeps
	// working until released, the new one serves new calls.
	old, release, err := reg.Acquire("a.wasm")
	if err != nil {
		t.Fatal(err)
	}
	copyModule(t, dir, "unreachable.wasm", "a.wasm")
	if k := kinds(mustRescan(t, reg)); k["a.wasm"] != agents.Replaced {
		t.Fatalf("replace: %v", k)
	}
	if _, err := old.Handle(ctx, []byte(input), 1_000_000, nil); err != nil {
		t.Fatalf("the old version stopped serving its call: %v", err)
	}
	release()
	if err := call("a.wasm"); err == nil {
		t.Fatal("the replacement (a trapping module) is not the one serving")
	} else if f, ok := wasm.AsFault(err); !ok || f.Kind != wasm.FaultTrap {
		t.Fatalf("want a trap from the new version, got %v", err)
	}

	// A replacement that does not load leaves the old version serving.
	if err := os.WriteFile(filepath.Join(dir, "b.wasm"), []byte("garbage"), 0o644); err != nil {
		t.Fatal(err)
	}
	if k := kinds(mustRescan(t, reg)); k["b.wasm"] != agents.Failed {
		t.Fatalf("broken replacement: %v", k)
	}
	if err := call("b.wasm"); err != nil {
		t.Fatalf("b.wasm's old version must keep serving: %v", err)
	}

	// Remove.
	os.Remove(filepath.Join(dir, "a.wasm"))
	if k := kinds(mustRescan(t, reg)); k["a.wasm"] != agents.Removed {
		t.Fatalf("remove: %v", k)
	}
	if err := call("a.wasm"); !errors.Is(err, agents.ErrNoPlugin) {
		t.Fatalf("a removed plugin still answers: %v", err)
	}
	if loaded := reg.Loaded(); len(loaded) != 1 || loaded[0].File != "b.wasm" {
		t.Fatalf("loaded: %v", loaded)
	}
}

func mustRescan(t *testing.T, reg *agents.Registry) []agents.Event {
	t.Helper()
	events, err := reg.Rescan(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return events
}

// The watcher picks changes up by itself.
func TestWatcher(t *testing.T) {
	ctx := context.Background()
	rt := newRuntime(t)
	dir := t.TempDir()
	seen := make(chan agents.Event, 8)
	reg, _, err := agents.Open(ctx, dir, rt, agents.Options{PollInterval: 20 * time.Millisecond, OnEvent: func(e agents.Event) { seen <- e }})
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close(ctx)
	copyModule(t, dir, "good.wasm", "w.wasm")
	var e agents.Event
	select {
	case e = <-seen:
	case <-time.After(10 * time.Second):
		t.Fatal("the watcher did not notice a new plugin in 10 s")
	}
	if e.Kind != agents.Loaded || e.File != "w.wasm" || e.Name != "good" {
		t.Fatalf("event %v", e)
	}
}

// A plugin rewritten with bytes of the same size and the same modification
// time is still seen replaced: just after a scan read it (a file system's
// clock is coarse), and with its time set back to an old one (`cp -p`,
// `rsync -a`, a build with fixed times).
func TestRescanSeesARewriteOfTheSameSizeAndTime(t *testing.T) {
	ctx := context.Background()
	rt := newRuntime(t)
	dir := t.TempDir()
	data, err := os.ReadFile(filepath.Join("../wasm/testdata", "good.wasm"))
	if err != nil {
		t.Fatal(err)
	}
	// Valid modules of the same size: the original with a custom section
	// of eight bytes of one fill or another.
	withSection := func(fill byte) []byte {
		body := []byte{4, 'n', 'o', 't', 'e'}
		for i := 0; i < 8; i++ {
			body = append(body, fill)
		}
		return append(append(append([]byte(nil), data...), 0, byte(len(body))), body...)
	}
	file := filepath.Join(dir, "a.wasm")
	write := func(fill byte, mtime time.Time) {
		t.Helper()
		if err := os.WriteFile(file, withSection(fill), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(file, mtime, mtime); err != nil {
			t.Fatal(err)
		}
	}
	now, old := time.Now(), time.Now().Add(-time.Hour)
	write('a', now)
	reg, _, err := agents.Open(ctx, dir, rt, agents.Options{PollInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close(ctx)
	for i, w := range []struct {
		fill  byte
		mtime time.Time
	}{{'b', now}, {'c', old}, {'d', old}} {
		write(w.fill, w.mtime)
		events, err := reg.Rescan(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if k := kinds(events); k["a.wasm"] != agents.Replaced {
			t.Fatalf("rewrite %d (same size, modification time %v): %v", i+1, w.mtime, events)
		}
	}
	// Untouched: nothing to say.
	if events, err := reg.Rescan(ctx); err != nil || len(events) != 0 {
		t.Fatalf("a scan of an unchanged folder: %v %v", events, err)
	}
}

// A plugin that is a symbolic link (as a Kubernetes ConfigMap volume shows
// its files) is loaded, and replaced when the link is pointed at another
// file (as such a volume is updated: its links are swapped).
func TestSymlinkedPlugins(t *testing.T) {
	ctx := context.Background()
	rt := newRuntime(t)
	dir, store := t.TempDir(), t.TempDir()
	copyModule(t, store, "good.wasm", "v1.wasm")
	copyModule(t, store, "touch.wasm", "v2.wasm")
	if err := os.Symlink(filepath.Join(store, "v1.wasm"), filepath.Join(dir, "a.wasm")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(store, "missing.wasm"), filepath.Join(dir, "dangling.wasm")); err != nil {
		t.Fatal(err)
	}
	reg, events, err := agents.Open(ctx, dir, rt, agents.Options{PollInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close(ctx)
	if k := kinds(events); k["a.wasm"] != agents.Loaded || len(k) != 1 {
		t.Fatalf("a linked plugin at start: %v", events)
	}
	tmp := filepath.Join(dir, ".a.tmp")
	if err := os.Symlink(filepath.Join(store, "v2.wasm"), tmp); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, "a.wasm")); err != nil {
		t.Fatal(err)
	}
	events, err = reg.Rescan(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if k := kinds(events); k["a.wasm"] != agents.Replaced {
		t.Fatalf("the link pointed at another module: %v", events)
	}
}
