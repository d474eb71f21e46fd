package agents

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/canswarm/swarmhost/abi/envelope"
	"github.com/canswarm/swarmhost/host/wasm"
	"github.com/canswarm/swarmhost/internal/parallel"
)

// EventKind says what happened to a plugin file.
type EventKind string

// The kinds of event.
const (
	Loaded   EventKind = "loaded"
	Replaced EventKind = "replaced"
	Removed  EventKind = "removed"
	Failed   EventKind = "failed"
)

// Event is one change the registry made or refused.
type Event struct {
	Kind EventKind
	File string // the file name within the folder
	Name string // the agent's manifest name, when loaded
	Err  error  // why, for Failed
}

func (e Event) String() string {
	if e.Err != nil {
		return fmt.Sprintf("%s %s: %v", e.Kind, e.File, e.Err)
	}
	return fmt.Sprintf("%s %s (%s)", e.Kind, e.File, e.Name)
}

// Options tune a registry.
type Options struct {
	// PollInterval is how often the folder is rescanned; 0 means 1 s, and a
	// negative value turns the watcher off (call Rescan yourself).
	PollInterval time.Duration
	// OnEvent, when set, is told of every event (from the watcher goroutine).
	OnEvent func(Event)
}

// Registry is the set of loaded plugins of one folder.
type Registry struct {
	dir  string
	rt   *wasm.Runtime
	opts Options

	mu      sync.Mutex
	plugins map[string]*plugin // by file name
	failed  map[string]string  // file name -> ref that failed, so it is reported once
	scanMu  sync.Mutex
	closers sync.WaitGroup // retired modules being closed

	stop chan struct{}
	done chan struct{}
}

// plugin is one loaded file, reference-counted so that a replaced module is
// closed only after its last call.
type plugin struct {
	file string
	ref  string
	// stat is the file's when it was read (at readAt): a scan that finds
	// it unchanged (unchanged) does not read the file again.
	stat   os.FileInfo
	readAt time.Time
	module *wasm.Module
	users  int
	gone   bool // replaced or removed: close when users reaches 0
}

// racyWindow: a file modified this close to when it was read is read again
// at the next scan, whatever its size and times say.
const racyWindow = time.Second

// unchanged reports whether the file described by now is the one p was
// read from: the same file (device and inode: a file renamed over it is
// another), size, modification time and, where the platform has one,
// status change time (which `cp -p` or `touch -d` cannot set back); and
// modified well before it was read (a file system's clock is coarse: a
// file written again just after it was read may keep its size and times).
func (p *plugin) unchanged(now os.FileInfo) bool {
	was := p.stat
	return was != nil && os.SameFile(was, now) && was.Size() == now.Size() && was.ModTime().Equal(now.ModTime()) &&
		sameChangeTime(was, now) && was.ModTime().Before(p.readAt.Add(-racyWindow))
}

// Open loads every plugin in dir and starts watching it.
func Open(ctx context.Context, dir string, rt *wasm.Runtime, opts Options) (*Registry, []Event, error) {
	if opts.PollInterval == 0 {
		opts.PollInterval = time.Second
	}
	info, err := os.Stat(dir)
	if err != nil {
		return nil, nil, fmt.Errorf("plugins folder: %w", err)
	}
	if !info.IsDir() {
		return nil, nil, fmt.Errorf("plugins folder %s is not a folder", dir)
	}
	r := &Registry{dir: dir, rt: rt, opts: opts, plugins: map[string]*plugin{}, failed: map[string]string{},
		stop: make(chan struct{}), done: make(chan struct{})}
	events, err := r.Rescan(ctx)
	if err != nil {
		return nil, nil, err
	}
	if opts.PollInterval > 0 {
		go r.watch()
	} else {
		close(r.done)
	}
	return r, events, nil
}

func (r *Registry) watch() {
	defer close(r.done)
	t := time.NewTicker(r.opts.PollInterval)
	defer t.Stop()
	for {
		select {
		case <-r.stop:
			return
		case <-t.C:
			events, err := r.Rescan(context.Background())
			if err != nil && r.opts.OnEvent != nil {
				r.opts.OnEvent(Event{Kind: Failed, File: r.dir, Err: err})
			}
			for _, e := range events {
				if r.opts.OnEvent != nil {
					r.opts.OnEvent(e)
				}
			}
		}
	}
}

// Rescan brings the registry in line with the folder and says what changed.
func (r *Registry) Rescan(ctx context.Context) ([]Event, error) {
	r.scanMu.Lock()
	defer r.scanMu.Unlock()
	entries, err := os.ReadDir(r.dir)
	if err != nil {
		return nil, fmt.Errorf("plugins folder: %w", err)
	}
	var events []Event
	present := map[string]bool{}
	// What needs loading is loaded side by side (a cold compile of a Go
	// agent takes seconds, on one core): first one file of each distinct
	// module, then the files that repeat one, which find it compiled.
	type pending struct {
		name, ref string
		data      []byte
		stat      os.FileInfo
		readAt    time.Time
		old       *plugin
		mod       *wasm.Module
		err       error
	}
	var todo []*pending
	for _, e := range entries {
		name := e.Name()
		if !strings.HasSuffix(name, ".wasm") || strings.HasPrefix(name, ".") {
			continue
		}
		// A symbolic link counts as the file it names (a Kubernetes
		// ConfigMap or Secret volume shows its files so); a folder or a
		// link to nothing does not count.
		var info os.FileInfo
		var err error
		switch {
		case e.Type().IsRegular():
			info, err = e.Info()
		case e.Type()&os.ModeSymlink != 0:
			info, err = os.Stat(filepath.Join(r.dir, name))
		default:
			continue
		}
		if err != nil || !info.Mode().IsRegular() {
			continue // gone since the listing, or not a file
		}
		present[name] = true
		r.mu.Lock()
		old := r.plugins[name]
		r.mu.Unlock()
		if old != nil && old.unchanged(info) {
			continue // unchanged since it was read: not read again
		}
		readAt := time.Now()
		data, err := os.ReadFile(filepath.Join(r.dir, name))
		if err != nil {
			events = append(events, Event{Kind: Failed, File: name, Err: err})
			continue
		}
		ref := envelope.HashRef(data)
		r.mu.Lock()
		failedRef := r.failed[name]
		if old != nil && old.ref == ref {
			old.stat, old.readAt = info, readAt // touched, not changed
		}
		r.mu.Unlock()
		if (old != nil && old.ref == ref) || failedRef == ref {
			continue // unchanged, or known broken
		}
		todo = append(todo, &pending{name: name, ref: ref, data: data, old: old, stat: info, readAt: readAt})
	}
	var first, repeats []*pending
	seen := map[string]bool{}
	for _, p := range todo {
		if seen[p.ref] {
			repeats = append(repeats, p)
		} else {
			seen[p.ref] = true
			first = append(first, p)
		}
	}
	for _, batch := range [][]*pending{first, repeats} {
		w := parallel.Start(len(batch), runtime.GOMAXPROCS(0)-1, func(i int) {
			batch[i].mod, batch[i].err = r.rt.Load(ctx, batch[i].name, batch[i].data)
		})
		w.Help()
		w.Wait()
	}
	for _, p := range todo {
		if p.err != nil {
			r.mu.Lock()
			r.failed[p.name] = p.ref
			r.mu.Unlock()
			events = append(events, Event{Kind: Failed, File: p.name, Err: p.err})
			continue
		}
		kind := Loaded
		r.mu.Lock()
		delete(r.failed, p.name)
		if p.old != nil {
			kind = Replaced
			r.retireLocked(p.old)
		}
		r.plugins[p.name] = &plugin{file: p.name, ref: p.ref, module: p.mod, stat: p.stat, readAt: p.readAt}
		r.mu.Unlock()
		events = append(events, Event{Kind: kind, File: p.name, Name: p.mod.Manifest().Name})
	}
	r.mu.Lock()
	for name, p := range r.plugins {
		if !present[name] {
			delete(r.plugins, name)
			r.retireLocked(p)
			events = append(events, Event{Kind: Removed, File: name, Name: p.module.Manifest().Name})
		}
	}
	for name := range r.failed {
		if !present[name] {
			delete(r.failed, name)
		}
	}
	r.mu.Unlock()
	sort.SliceStable(events, func(i, j int) bool { return events[i].File < events[j].File })
	return events, nil
}

// retireLocked drops a plugin from service, closing it now or after its
// last user.
func (r *Registry) retireLocked(p *plugin) {
	p.gone = true
	if p.users == 0 {
		r.closers.Add(1)
		go func() {
			defer r.closers.Done()
			p.module.Close(context.Background())
		}()
	}
}

// ErrNoPlugin is returned by Acquire for a name that is not loaded.
var ErrNoPlugin = errors.New("no such plugin")

// Acquire returns the module loaded from file (or, failing that, the one
// whose manifest has that name) and a release function to call when done.
func (r *Registry) Acquire(name string) (*wasm.Module, func(), error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	p := r.plugins[name]
	if p == nil {
		for _, q := range r.plugins {
			if q.module.Manifest().Name == name {
				p = q
				break
			}
		}
	}
	if p == nil {
		return nil, nil, fmt.Errorf("%w: %s", ErrNoPlugin, name)
	}
	p.users++
	var once sync.Once
	return p.module, func() {
		once.Do(func() {
			r.mu.Lock()
			p.users--
			closeNow := p.gone && p.users == 0
			r.mu.Unlock()
			if closeNow {
				p.module.Close(context.Background())
			}
		})
	}, nil
}

// Loaded lists the loaded plugins: file name and manifest, by file name.
func (r *Registry) Loaded() []Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []Event
	for name, p := range r.plugins {
		out = append(out, Event{Kind: Loaded, File: name, Name: p.module.Manifest().Name})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].File < out[j].File })
	return out
}

// Close stops the watcher and closes every module not in use.
func (r *Registry) Close(ctx context.Context) error {
	select {
	case <-r.stop:
	default:
		close(r.stop)
	}
	<-r.done
	r.scanMu.Lock()
	defer r.scanMu.Unlock()
	r.mu.Lock()
	defer r.mu.Unlock()
	for name, p := range r.plugins {
		delete(r.plugins, name)
		p.gone = true
		if p.users == 0 {
			p.module.Close(ctx)
		}
	}
	r.closers.Wait()
	return nil
}
