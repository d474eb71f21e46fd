package wasm_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/canswarm/swarmhost/host/wasm"
)

// Every call's instance starts from zeroed memory, though instances reuse
// the mappings of earlier ones: fresh.wasm traps unless its memory (grown
// to its maximum) reads as zeros, then fills it, so a call that got an
// earlier call's memory uncleared fails.
func TestCallsStartFromZeroedMemory(t *testing.T) {
	for _, engine := range engines {
		t.Run(string(engine), func(t *testing.T) {
			rt := newRuntime(t, engine)
			m := load(t, rt, "testdata/fresh.wasm")
			e, _ := env(t)
			for i := 0; i < 40; i++ {
				if _, err := m.Handle(context.Background(), []byte(someInput), 10_000_000, e); err != nil {
					t.Fatalf("call %d: %v", i, err)
				}
			}
		})
	}
}

// Instances are put back in the pool after a call, in the image's state:
// reuse.wasm traps unless a global, a memory cell and its allocator's bump
// pointer are as instantiated, then changes them; every call succeeds,
// and calls did run on recycled instances.
func TestRecycledInstancesStartFromTheImage(t *testing.T) {
	for _, tracked := range []bool{true, false} {
		for _, engine := range engines {
			t.Run(fmt.Sprintf("%s/tracked=%v", engine, tracked), func(t *testing.T) {
				defer wasm.SetDirtyPageTracking(wasm.SetDirtyPageTracking(tracked))
				recycledStartFromTheImage(t, engine)
			})
		}
	}
}

func recycledStartFromTheImage(t *testing.T, engine wasm.Engine) {
	rt := newRuntime(t, engine)
	m := load(t, rt, "testdata/reuse.wasm")
	if !m.FromImage() {
		t.Fatal("reuse.wasm does not start from an image")
	}
	e, _ := env(t)
	for i := 0; i < 40; i++ {
		if _, err := m.Handle(context.Background(), []byte(someInput), 10_000_000, e); err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	if m.Recycled() == 0 {
		t.Fatal("no instance was recycled")
	}
}
