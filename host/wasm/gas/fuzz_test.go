package gas

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/tetratelabs/wazero"
)

// FuzzInstrument: Instrument and Inspect never panic; when the input is a
// module wazero accepts, so is the output. (That Instrument accepts every
// supported module wazero accepts is checked on the fixtures and the Go
// module by the other tests.)
func FuzzInstrument(f *testing.F) {
	files, err := filepath.Glob("testdata/*.wasm")
	if err != nil || len(files) == 0 {
		f.Fatalf("no fixtures: %v", err)
	}
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	ctx := context.Background()
	// The interpreter validates as the compiler does and compiles faster.
	r := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigInterpreter())
	f.Cleanup(func() { r.Close(ctx) })
	f.Fuzz(func(t *testing.T, data []byte) {
		out, err := Instrument(data, Options{})
		_, _ = Inspect(data)
		_, _ = InspectInterface(data)
		if err != nil {
			// Only the absence of panics is checked on input the instrumenter
			// refuses. wazero v1.12 is not safe on arbitrary bytes: an 84-byte
			// module whose type section ends inside a count makes it read
			// past the section and allocate gigabytes, a fatal error that
			// kills the fuzzing process. Hosts run Instrument first, whose
			// decoder checks every count against the bytes left.
			return
		}
		cm, verr := r.CompileModule(ctx, data)
		if verr != nil {
			return // not a module wazero runs
		}
		cm.Close(ctx)
		cm, err = r.CompileModule(ctx, out)
		if err != nil {
			t.Fatalf("the instrumented module does not compile: %v", err)
		}
		cm.Close(ctx)
	})
}
