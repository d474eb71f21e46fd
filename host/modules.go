package host

import (
	"fmt"
	"sync"

	"github.com/canswarm/swarmhost/host/wasm"
)

// moduleHolds keeps the agents' modules by ref for as long as something
// may run them: the configuration the core was last given names them, or
// a run asked for before a reload has not ended. A replaced plugin's old
// module so serves the runs the core asked for it (RunAgent.Module), which
// replay makes with that module too; it is released (and the registry
// closes it) once neither holds it.
type moduleHolds struct {
	mu    sync.Mutex
	byRef map[string]*heldModule
}

type heldModule struct {
	mod     *wasm.Module
	release func() // the registry's acquisition
	named   bool   // the core's configuration names it
	runs    int    // runs under way or waiting to start
}

func newModuleHolds() *moduleHolds { return &moduleHolds{byRef: map[string]*heldModule{}} }

// hold keeps mod, acquired from the registry, under ref: named by the
// configuration being made. A ref already held keeps its first
// acquisition and the new one is released.
func (m *moduleHolds) hold(ref string, mod *wasm.Module, release func()) {
	m.mu.Lock()
	h := m.byRef[ref]
	if h == nil {
		m.byRef[ref] = &heldModule{mod: mod, release: release, named: true}
		m.mu.Unlock()
		return
	}
	h.named = true
	m.mu.Unlock()
	release()
}

// keepOnly is told the refs the core's configuration names now (a reload
// was stepped, and every run asked for before it has taken its module):
// the others are released once their runs end.
func (m *moduleHolds) keepOnly(refs map[string]bool) {
	var drop []func()
	m.mu.Lock()
	for ref, h := range m.byRef {
		h.named = refs[ref]
		if !h.named && h.runs == 0 {
			drop = append(drop, h.release)
			delete(m.byRef, ref)
		}
	}
	m.mu.Unlock()
	for _, release := range drop {
		release()
	}
}

// take returns the module under ref for one run and the function to call
// when the run is over.
func (m *moduleHolds) take(ref string) (*wasm.Module, func(), error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	h := m.byRef[ref]
	if h == nil {
		return nil, nil, fmt.Errorf("module %s is not loaded", ref)
	}
	h.runs++
	var once sync.Once
	return h.mod, func() {
		once.Do(func() {
			m.mu.Lock()
			h.runs--
			drop := !h.named && h.runs == 0 && m.byRef[ref] == h
			if drop {
				delete(m.byRef, ref)
			}
			m.mu.Unlock()
			if drop {
				h.release()
			}
		})
	}, nil
}

// releaseAll lets every module go (the host closes).
func (m *moduleHolds) releaseAll() {
	m.mu.Lock()
	held := m.byRef
	m.byRef = map[string]*heldModule{}
	m.mu.Unlock()
	for _, h := range held {
		h.release()
	}
}
