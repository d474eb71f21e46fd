package wasm_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/canswarm/swarmhost/host/cas"
	"github.com/canswarm/swarmhost/host/wasm"
)

var engines = []wasm.Engine{wasm.EngineCompiler, wasm.EngineInterpreter}

func newRuntime(t testing.TB, engine wasm.Engine) *wasm.Runtime {
	t.Helper()
	ctx := context.Background()
	rt, err := wasm.NewRuntime(ctx, wasm.Config{Engine: engine, PoolSize: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rt.Close(ctx) })
	return rt
}

func load(t testing.TB, rt *wasm.Runtime, file string) *wasm.Module {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	m, err := rt.Load(context.Background(), filepath.Base(file), data)
	if err != nil {
		t.Fatalf("load %s: %v", file, err)
	}
	t.Cleanup(func() { m.Close(context.Background()) })
	return m
}

func env(t testing.TB) (*wasm.Env, *[]string) {
	store, err := cas.NewFileStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	var logs []string
	return &wasm.Env{CAS: store, Log: func(level int32, msg string) { logs = append(logs, msg) }}, &logs
}

const someInput = `{"envelope":{},"self_pk":"","thread":{"state":"OPEN","epoch":1,"fence":0}}`

// A module the host has never seen, written by hand against ABI.md, runs
// with deterministic gas on both engines.
func TestHandWrittenModule(t *testing.T) {
	var gasBy = map[wasm.Engine]uint64{}
	for _, engine := range engines {
		t.Run(string(engine), func(t *testing.T) {
			rt := newRuntime(t, engine)
			m := load(t, rt, "testdata/good.wasm")
			if m.Manifest().Name != "good" {
				t.Fatalf("manifest %+v", m.Manifest())
			}
			e, logs := env(t)
			res, err := m.Handle(context.Background(), []byte(someInput), 1_000_000, e)
			if err != nil {
				t.Fatal(err)
			}
			if string(res.Output) != `{"actions":[],"plan_ops":[]}` || len(res.Parsed.Actions) != 0 {
				t.Fatalf("output %s", res.Output)
			}
			if len(*logs) != 1 || (*logs)[0] != "handled" {
				t.Fatalf("logs %q", *logs)
			}
			again, err := m.Handle(context.Background(), []byte(someInput), 1_000_000, e)
			if err != nil || again.GasUsed != res.GasUsed {
				t.Fatalf("second call: gas %d vs %d (%v)", again.GasUsed, res.GasUsed, err)
			}
			longer, err := m.Handle(context.Background(), []byte(someInput+strings.Repeat(" ", 100)), 1_000_000, e)
			if err != nil || longer.GasUsed <= res.GasUsed {
				t.Fatalf("a longer input must cost more gas: %d vs %d (%v)", longer.GasUsed, res.GasUsed, err)
			}
			gasBy[engine] = res.GasUsed
		})
	}
	if gasBy[wasm.EngineCompiler] != gasBy[wasm.EngineInterpreter] {
		t.Fatalf("gas differs between engines: %v", gasBy)
	}
}

// With exactly the gas a call used it succeeds; with one less it fails out
// of gas, and says how much it used of what.
func TestExactBudget(t *testing.T) {
	rt := newRuntime(t, wasm.EngineCompiler)
	m := load(t, rt, "testdata/good.wasm")
	e, _ := env(t)
	res, err := m.Handle(context.Background(), []byte(someInput), 1_000_000, e)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Handle(context.Background(), []byte(someInput), res.GasUsed, e); err != nil {
		t.Fatalf("budget = gas used (%d): %v", res.GasUsed, err)
	}
	_, err = m.Handle(context.Background(), []byte(someInput), res.GasUsed-1, e)
	f, ok := wasm.AsFault(err)
	if !ok || f.Kind != wasm.FaultOutOfGas || f.Budget != res.GasUsed-1 || f.GasUsed != f.Budget {
		t.Fatalf("budget one less: %v", err)
	}
	if want := "out of gas (used"; !strings.HasPrefix(f.Error(), want) {
		t.Fatalf("message %q", f.Error())
	}
}

// Every adversarial module is stopped with its typed fault, on both
// engines, and the same runtime keeps serving a good plugin.
func TestAdversarialModules(t *testing.T) {
	cases := []struct {
		file string
		kind wasm.FaultKind
		also wasm.FaultKind // an acceptable alternative
	}{
		{"loop", wasm.FaultOutOfGas, ""},
		{"grow", wasm.FaultOutOfGas, wasm.FaultMemoryLimit},
		{"recurse", wasm.FaultStackDepth, ""},
		{"unreachable", wasm.FaultTrap, ""},
		{"outptr", wasm.FaultBadPointer, ""},
		{"outlen", wasm.FaultOutputTooLarge, ""},
		{"notjson", wasm.FaultBadOutput, ""},
		{"hostptr", wasm.FaultBadPointer, ""},
	}
	for _, engine := range engines {
		rt := newRuntime(t, engine)
		good := load(t, rt, "testdata/good.wasm")
		e, _ := env(t)
		for _, c := range cases {
			t.Run(string(engine)+"/"+c.file, func(t *testing.T) {
				m := load(t, rt, "testdata/"+c.file+".wasm")
				var gasSeen []uint64
				for i := 0; i < 2; i++ {
					_, err := m.Handle(context.Background(), []byte(someInput), 5_000_000, e)
					f, ok := wasm.AsFault(err)
					if !ok || (f.Kind != c.kind && f.Kind != c.also) {
						t.Fatalf("got %v, want a %s fault", err, c.kind)
					}
					gasSeen = append(gasSeen, f.GasUsed)
				}
				if gasSeen[0] != gasSeen[1] {
					t.Fatalf("the fault's gas differs between runs: %v", gasSeen)
				}
				if _, err := good.Handle(context.Background(), []byte(someInput), 1_000_000, e); err != nil {
					t.Fatalf("the good plugin stopped working after %s: %v", c.file, err)
				}
			})
		}
	}
}

func TestLoadRefusesBadModules(t *testing.T) {
	rt := newRuntime(t, wasm.EngineCompiler)
	cases := map[string]string{
		"not wasm": "hello",
		"empty":    "",
	}
	for name, data := range cases {
		if _, err := rt.Load(context.Background(), name, []byte(data)); err == nil {
			t.Errorf("%s: loaded", name)
		}
	}
}

func TestOutputIsAgentOutput(t *testing.T) {
	rt := newRuntime(t, wasm.EngineInterpreter)
	m := load(t, rt, "testdata/good.wasm")
	e, _ := env(t)
	res, err := m.Handle(context.Background(), []byte(someInput), 1_000_000, e)
	if err != nil {
		t.Fatal(err)
	}
	var v map[string]any
	if err := json.Unmarshal(res.Output, &v); err != nil {
		t.Fatal(err)
	}
}

func ed25519Key(n byte) ed25519.PrivateKey {
	return ed25519.NewKeyFromSeed(bytes.Repeat([]byte{n}, 32))
}
