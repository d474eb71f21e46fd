package host

import (
	"fmt"
	"sync"

	"github.com/canswarm/swarmhost/host/wasm"
)

// moduleHolds keeps the agents' modules by ref for as long as something
// may run them: a configuration the core was given (or is about to be)
// names them, or a run asked for before a reload has not ended. A replaced
// plugin's old module so serves the runs the core asked for it
// (RunAgent.Module), which replay makes with that module too; it is
// released (and the registry closes it) once nothing holds it.
//
// Configurations are numbered: 0 is the start's, and each reload takes the
// next (begin) before it makes its agents. A module held for a reload not
// yet stepped is kept when an earlier one is stepped.
type moduleHolds struct {
	mu    sync.Mutex
	byRef map[string]*heldModule
	last  uint64 // the latest generation begun
}

type heldModule struct {
	mod     *wasm.Module
	release func() // the registry's acquisition
	gen     uint64 // the latest configuration that names it
	named   bool   // the configuration the core has now, or a later one, names it
	runs    int    // runs under way or waiting to start
}

func newModuleHolds() *moduleHolds { return &moduleHolds{byRef: map[string]*heldModule{}} }

// begin numbers the configuration a reload is about to make.
func (m *moduleHolds) begin() uint64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.last++
	return m.last
}

// moduleGeneration holds modules for the configuration of one generation.
type moduleGeneration struct {
	m   *moduleHolds
	gen uint64
}

func (m *moduleHolds) generation(gen uint64) moduleGeneration {
	return moduleGeneration{m: m, gen: gen}
}

// hold keeps mod, acquired from the registry, under ref: named by the
// configuration being made. A ref already held keeps its first
// acquisition and the new one is released.
func (g moduleGeneration) hold(ref string, mod *wasm.Module, release func()) {
	m := g.m
	m.mu.Lock()
	h := m.byRef[ref]
	if h == nil {
		m.byRef[ref] = &heldModule{mod: mod, release: release, gen: g.gen, named: true}
		m.mu.Unlock()
		return
	}
	h.named, h.gen = true, max(h.gen, g.gen)
	m.mu.Unlock()
	release()
}

// keepOnly is told that the reload of generation gen was stepped, naming
// refs, and that every run asked for before it has taken its module: a
// module neither it nor a later reload names is released once its runs
// end.
func (m *moduleHolds) keepOnly(refs map[string]bool, gen uint64) {
	var drop []func()
	m.mu.Lock()
	for ref, h := range m.byRef {
		h.named = refs[ref] || h.gen > gen
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
