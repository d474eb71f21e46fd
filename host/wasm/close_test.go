package wasm_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/canswarm/swarmhost/host/wasm"
)

// Closing a runtime while a call runs waits for the call to end (out of
// gas here) before the runtime frees the memory the call is writing to; a
// call made after Close is refused with an error, not a crash.
func TestCloseWaitsForCallsInProgress(t *testing.T) {
	for _, engine := range engines {
		t.Run(string(engine), func(t *testing.T) {
			ctx := context.Background()
			rt, err := wasm.NewRuntime(ctx, wasm.Config{Engine: engine, PoolSize: 1})
			if err != nil {
				t.Fatal(err)
			}
			m := load(t, rt, "testdata/touch.wasm")
			e, _ := env(t)
			var ended atomic.Bool
			done := make(chan error, 1)
			started := make(chan struct{})
			go func() {
				close(started)
				_, err := m.Handle(ctx, []byte(someInput), 300_000_000, e)
				ended.Store(true)
				done <- err
			}()
			<-started
			time.Sleep(20 * time.Millisecond) // the call is (very likely) running
			if err := rt.Close(ctx); err != nil {
				t.Fatal(err)
			}
			if !ended.Load() {
				t.Fatal("Close returned while a call was still running")
			}
			if f, ok := wasm.AsFault(<-done); !ok || f.Kind != wasm.FaultOutOfGas {
				t.Fatalf("the running call: want out of gas, got %v", f)
			}
			if _, err := m.Handle(ctx, []byte(someInput), 1_000_000, e); err == nil {
				t.Fatal("a call after Close ran")
			}
		})
	}
}
