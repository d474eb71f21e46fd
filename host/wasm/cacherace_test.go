package wasm_test

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"

	"github.com/canswarm/swarmhost/host/wasm"
)

// Loads of the same module side by side, on a runtime whose compilation
// cache already holds it (a restarted node: several evaluations load one
// capsule at once, and one plugin runs under several names), all succeed.
// wazero v1.12.0 hands a module read from the cache to a second compile
// before finishing it (wazero/wazero#2547), and instantiating it then
// panics; Runtime.compile takes the same bytes one at a time.
func TestSameModuleLoadedSideBySideFromTheCache(t *testing.T) {
	ctx := context.Background()
	data, err := os.ReadFile(goPlugin(t, "echo"))
	if err != nil {
		t.Fatal(err)
	}
	cache := t.TempDir()
	warm, err := wasm.NewRuntime(ctx, wasm.Config{CacheDir: cache, PoolSize: 1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := warm.Load(ctx, "echo", data); err != nil {
		t.Fatal(err)
	}
	warm.Close(ctx)
	for round := 0; round < 4; round++ {
		rt, err := wasm.NewRuntime(ctx, wasm.Config{CacheDir: cache, PoolSize: 1})
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		errs := make([]error, 4)
		for g := range errs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() {
					if p := recover(); p != nil {
						errs[g] = fmt.Errorf("panic: %v", p)
					}
				}()
				m, err := rt.Load(ctx, fmt.Sprint("echo-", g), data)
				if err != nil {
					errs[g] = err
					return
				}
				e, _ := env(t)
				_, errs[g] = m.Handle(ctx, []byte(someInput), 200_000_000, e)
			}()
		}
		wg.Wait()
		rt.Close(ctx)
		for g, err := range errs {
			if err != nil {
				t.Fatalf("round %d, load %d: %v", round, g, err)
			}
		}
	}
}
