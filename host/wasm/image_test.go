package wasm_test

import (
	"context"
	"fmt"
	"os"
	"testing"

	"github.com/canswarm/swarmhost/host/wasm"
)

// An instance started from an image (the state after _initialize, taken
// once) answers every call with the output, gas and fault of a fresh
// instance that ran _initialize itself, call after call, on both engines:
// the Go agents of the repository, with inputs that vary and a budget that
// runs out part way.
func TestImageInstancesAreFresh(t *testing.T) {
	ctx := context.Background()
	inputs := []string{someInput,
		`{"envelope":{"verb":"NEED","payload":{"input":["a","b","c"]}},"self_pk":"ab","thread":{"state":"OPEN","epoch":1,"fence":0}}`,
		`{"envelope":{},"self_pk":"x","thread":{"state":"DECIDED","epoch":2,"fence":7}}`}
	for _, engine := range engines {
		for _, name := range []string{"echo", "classifier", "verifier"} {
			t.Run(fmt.Sprintf("%s/%s", engine, name), func(t *testing.T) {
				data, err := os.ReadFile(goPlugin(t, name))
				if err != nil {
					t.Fatal(err)
				}
				var results [2][]string
				cache := t.TempDir()
				for i, fresh := range []bool{true, false} {
					rt, err := wasm.NewRuntime(ctx, wasm.Config{Engine: engine, PoolSize: 1, FreshInstances: fresh, CacheDir: cache})
					if err != nil {
						t.Fatal(err)
					}
					m, err := rt.Load(ctx, name, data)
					if err != nil {
						t.Fatal(err)
					}
					if m.FromImage() == fresh {
						t.Fatalf("FreshInstances %v, FromImage %v", fresh, m.FromImage())
					}
					e, _ := env(t)
					for round := 0; round < 2; round++ {
						for _, in := range inputs {
							for _, budget := range []uint64{200_000_000, 150_000} {
								res, err := m.Handle(ctx, []byte(in), budget, e)
								s := ""
								if err != nil {
									f, _ := wasm.AsFault(err)
									s = fmt.Sprintf("fault %v gas %d", err, f.GasUsed)
								} else {
									s = fmt.Sprintf("output %s gas %d", res.Output, res.GasUsed)
								}
								results[i] = append(results[i], s)
							}
						}
					}
					m.Close(ctx)
					rt.Close(ctx)
				}
				for k := range results[0] {
					if results[0][k] != results[1][k] {
						t.Fatalf("call %d: fresh %s\nfrom the image %s", k, results[0][k], results[1][k])
					}
				}
			})
		}
	}
}
