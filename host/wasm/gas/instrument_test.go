package gas

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

const bigBudget = int64(1) << 40

// run instantiates plain and metered copies of cm on one engine and makes
// every call on both, returning the metered outcomes (the init call first).
func runCorpus(t *testing.T, cm corpusModule, metered []byte, compiler bool) []outcome {
	t.Helper()
	ctx, r := newHost(t, compiler)
	plain, _, err := instantiate(t, ctx, r, cm.wasm, false, 0)
	if err != nil {
		t.Fatalf("instantiate plain: %v", err)
	}
	inst, startGas, err := instantiate(t, ctx, r, metered, true, bigBudget)
	if err != nil {
		t.Fatalf("instantiate metered: %v", err)
	}
	var outs []outcome
	outs = append(outs, outcome{used: startGas})
	calls := cm.calls
	if cm.init != "" {
		calls = append([]call{{fn: cm.init}}, calls...)
	}
	for _, cl := range calls {
		po := plain.call(t, cl.fn, 0, cl.args...)
		mo := inst.call(t, cl.fn, bigBudget, cl.args...)
		if !reflect.DeepEqual(po.results, mo.results) || po.trap != mo.trap {
			t.Errorf("%s%v: plain %v, metered %v", cl.fn, cl.args, po, mo)
		}
		if mo.trap == "" && mo.used <= 0 && cl.fn != cm.init {
			t.Errorf("%s%v: used no gas", cl.fn, cl.args)
		}
		outs = append(outs, mo)
	}
	return outs
}

// TestDifferential runs every corpus module instrumented and not, on both
// engines, and checks identical results, and identical gas between two runs
// and between the engines.
func TestDifferential(t *testing.T) {
	for _, cm := range fullCorpus(t) {
		t.Run(cm.name, func(t *testing.T) {
			metered, err := Instrument(cm.wasm, Options{})
			if err != nil {
				t.Fatal(err)
			}
			var first []outcome
			for _, e := range append(engines, engines[0]) {
				outs := runCorpus(t, cm, metered, e.compiler)
				if first == nil {
					first = outs
					continue
				}
				for i := range outs {
					if outs[i].used != first[i].used {
						t.Errorf("%s: call %d used %d gas, first run %d", e.name, i, outs[i].used, first[i].used)
					}
				}
			}
			if testing.Verbose() {
				for i, o := range first {
					t.Logf("call %d: %v", i, o)
				}
			}
		})
	}
}

// TestExactBudget: a call succeeds with exactly the gas it used and runs out
// of gas with one unit less, on both engines.
func TestExactBudget(t *testing.T) {
	for _, cm := range fullCorpus(t) {
		t.Run(cm.name, func(t *testing.T) {
			metered, err := Instrument(cm.wasm, Options{})
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range engines {
				ctx, r := newHost(t, e.compiler)
				for _, cl := range cm.calls {
					// A fresh instance per call, so state does not leak between budgets.
					fresh := func() *instance {
						inst, _, err := instantiate(t, ctx, r, metered, true, bigBudget)
						if err != nil {
							t.Fatal(err)
						}
						if cm.init != "" {
							if o := inst.call(t, cm.init, bigBudget); o.err != nil {
								t.Fatal(o.err)
							}
						}
						return inst
					}
					o := fresh().call(t, cl.fn, bigBudget, cl.args...)
					if o.err != nil {
						continue // traps are covered by TestDifferential
					}
					exact := fresh().call(t, cl.fn, o.used, cl.args...)
					if exact.err != nil || !reflect.DeepEqual(exact.results, o.results) || exact.used != o.used {
						t.Errorf("%s: %s%v with exactly %d gas: %v", e.name, cl.fn, cl.args, o.used, exact)
					}
					short := fresh().call(t, cl.fn, o.used-1, cl.args...)
					if !errors.Is(short.err, errOutOfGas) {
						t.Errorf("%s: %s%v with %d gas: want out of gas, got %v", e.name, cl.fn, cl.args, o.used-1, short)
					}
				}
			}
		})
	}
}

// TestRunaway: an infinite loop runs out of gas, unbounded recursion hits
// the depth limit (not wazero's own stack limit), a memory.grow bomb runs
// out of gas; identically on both engines.
func TestRunaway(t *testing.T) {
	fixtures := map[string][]byte{}
	for _, cm := range loadFixtures(t) {
		fixtures[cm.name] = cm.wasm
	}
	cases := []struct {
		module, fn string
		args       []uint64
		budget     int64
		want       error
	}{
		{"calls", "spin", []uint64{0}, 1_000_000, errOutOfGas},
		{"calls", "recurse", []uint64{0}, bigBudget, errTooDeep},
		{"calls", "down", []uint64{DefaultMaxCallDepth + 10}, bigBudget, errTooDeep},
		{"memgrow", "grow_bomb", []uint64{0}, 10_000_000, errOutOfGas},
		{"memgrow", "grow_huge", []uint64{0}, 10_000_000, errOutOfGas},
	}
	for _, tc := range cases {
		t.Run(tc.module+"/"+tc.fn, func(t *testing.T) {
			metered, err := Instrument(fixtures[tc.module], Options{})
			if err != nil {
				t.Fatal(err)
			}
			var gas []int64
			for _, e := range engines {
				ctx, r := newHost(t, e.compiler)
				inst, _, err := instantiate(t, ctx, r, metered, true, bigBudget)
				if err != nil {
					t.Fatal(err)
				}
				o := inst.call(t, tc.fn, tc.budget, tc.args...)
				if !errors.Is(o.err, tc.want) {
					t.Fatalf("%s: want %v, got %v", e.name, tc.want, o.err)
				}
				left := int64(inst.mod.ExportedGlobal(GasGlobalExport).Get())
				gas = append(gas, left)
			}
			if gas[0] != gas[1] {
				t.Errorf("gas left differs between engines: %v", gas)
			}
		})
	}
}

// TestDepthLimit: recursion to exactly the limit succeeds, one deeper fails,
// for a few limits, on both engines.
func TestDepthLimit(t *testing.T) {
	wasm, err := os.ReadFile("testdata/calls.wasm")
	if err != nil {
		t.Fatal(err)
	}
	for _, limit := range []uint32{1, 2, 10, DefaultMaxCallDepth} {
		metered, err := Instrument(wasm, Options{MaxCallDepth: limit})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range engines {
			ctx, r := newHost(t, e.compiler)
			inst, _, err := instantiate(t, ctx, r, metered, true, bigBudget)
			if err != nil {
				t.Fatal(err)
			}
			// down(n) nests n+1 frames of $down.
			if o := inst.call(t, "down", bigBudget, uint64(limit-1)); o.err != nil {
				t.Errorf("%s, limit %d: down(%d): %v", e.name, limit, limit-1, o.err)
			}
			if o := inst.call(t, "down", bigBudget, uint64(limit)); !errors.Is(o.err, errTooDeep) {
				t.Errorf("%s, limit %d: down(%d): want too deep, got %v", e.name, limit, limit, o.err)
			}
			// The instance recovers: the wrapper resets the depth.
			if o := inst.call(t, "down", bigBudget, 0); o.err != nil {
				t.Errorf("%s, limit %d: down(0) after too deep: %v", e.name, limit, o.err)
			}
		}
	}
}

// TestReentrantDepth: a call the host makes while a host function runs
// starts at depth 0 (wazero gives it a fresh stack), and the outer call
// goes on at its own depth afterwards.
func TestReentrantDepth(t *testing.T) {
	wasm, err := os.ReadFile("testdata/hostref.wasm")
	if err != nil {
		t.Fatal(err)
	}
	const limit = 50
	metered, err := Instrument(wasm, Options{MaxCallDepth: limit})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range engines {
		ctx, r := newHost(t, e.compiler)
		inst, _, err := instantiate(t, ctx, r, metered, true, bigBudget)
		if err != nil {
			t.Fatal(err)
		}
		// nest(n, k) holds n+1 frames of $nest, then sum(k) k+1 frames of $sum.
		if o := inst.call(t, "nest", bigBudget, limit-1, limit-1); o.err != nil {
			t.Errorf("%s: nest(%d, %d): %v", e.name, limit-1, limit-1, o.err)
		}
		if o := inst.call(t, "nest", bigBudget, limit-1, limit); !errors.Is(o.err, errTooDeep) {
			t.Errorf("%s: nest(%d, %d): want too deep, got %v", e.name, limit-1, limit, o)
		}
		if o := inst.call(t, "nest", bigBudget, limit, 0); !errors.Is(o.err, errTooDeep) {
			t.Errorf("%s: nest(%d, 0): want too deep, got %v", e.name, limit, o)
		}
		if o := inst.call(t, "nest", bigBudget, limit-1, 0); o.err != nil {
			t.Errorf("%s: nest(%d, 0) after failures: %v", e.name, limit-1, o.err)
		}
	}
}

// TestDeterministicOutput: the same input and options give the same bytes.
func TestDeterministicOutput(t *testing.T) {
	for _, cm := range fullCorpus(t) {
		a, err := Instrument(cm.wasm, Options{})
		if err != nil {
			t.Fatal(err)
		}
		b, err := Instrument(bytes.Clone(cm.wasm), Options{})
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(a, b) {
			t.Errorf("%s: two instrumentations differ", cm.name)
		}
		if _, err := Instrument(a, Options{}); !errors.Is(err, ErrAlreadyInstrumented) {
			t.Errorf("%s: instrumenting twice: want ErrAlreadyInstrumented, got %v", cm.name, err)
		}
	}
}

// TestUnsupported: modules using features the instrumenter refuses fail with
// an *UnsupportedFeatureError naming the feature.
func TestUnsupported(t *testing.T) {
	cases := []struct{ file, feature string }{
		{"simd.wasm", "simd"},
		{"threads.wasm", "threads"},
		{"tailcall.wasm", "tail-call"},
		{"memory64.wasm", "memory64"},
		{"multimemory.wasm", "multi-memory"},
		{"exceptions.wasm", "exception-handling"},
		{"extconst.wasm", "extended-const"},
	}
	for _, tc := range cases {
		wasm, err := os.ReadFile(filepath.Join("testdata", tc.file))
		if err != nil {
			t.Fatal(err)
		}
		_, err = Instrument(wasm, Options{})
		var ufe *UnsupportedFeatureError
		if !errors.As(err, &ufe) || ufe.Feature != tc.feature {
			t.Errorf("%s: want unsupported %q, got %v", tc.file, tc.feature, err)
			continue
		}
		if !strings.Contains(err.Error(), tc.feature) {
			t.Errorf("%s: message %q does not name the feature", tc.file, err)
		}
	}
}

// TestFixturesUpToDate recompiles every .wat with wat2wasm, when it is on
// PATH, and checks the committed .wasm matches.
func TestFixturesUpToDate(t *testing.T) {
	wat2wasm, err := exec.LookPath("wat2wasm")
	if err != nil {
		t.Skip("wat2wasm not on PATH: using the committed .wasm files")
	}
	wats, err := filepath.Glob("testdata/*.wat")
	if err != nil || len(wats) == 0 {
		t.Fatalf("no fixtures: %v", err)
	}
	dir := t.TempDir()
	for _, wat := range wats {
		src, err := os.ReadFile(wat)
		if err != nil {
			t.Fatal(err)
		}
		args := []string{wat, "-o", filepath.Join(dir, "out.wasm")}
		for _, line := range strings.Split(string(src), "\n") {
			if flags, ok := strings.CutPrefix(line, ";; wat2wasm-flags:"); ok {
				args = append(strings.Fields(flags), args...)
			}
		}
		if out, err := exec.Command(wat2wasm, args...).CombinedOutput(); err != nil {
			t.Errorf("%s: %v\n%s", wat, err, out)
			continue
		}
		got, _ := os.ReadFile(filepath.Join(dir, "out.wasm"))
		want, err := os.ReadFile(strings.TrimSuffix(wat, ".wat") + ".wasm")
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s: committed .wasm is stale or missing (%v): run wat2wasm %s", wat, err, strings.Join(args, " "))
		}
	}
}

func ExampleInstrument() {
	// (module (func (export "f") (result i32) i32.const 42))
	wasm := []byte("\x00asm\x01\x00\x00\x00\x01\x05\x01\x60\x00\x01\x7f\x03\x02\x01\x00\x07\x05\x01\x01f\x00\x00\x0a\x06\x01\x04\x00\x41\x2a\x0b")
	out, err := Instrument(wasm, Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	info, err := Inspect(out)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, im := range info.Imports {
		fmt.Println("import", im.Module, im.Name, im.Signature)
	}
	for _, ex := range info.Exports {
		fmt.Println("export", ex.Name, ex.Kind, ex.Signature)
	}
	// Output:
	// import swarm_gas get func() -> i64
	// import swarm_gas set func(i64)
	// import swarm_gas exhausted func()
	// import swarm_gas too_deep func()
	// export f func func() -> i32
	// export swarm_gas_left global mut i64
}

// TestHostCalls: gas a host function charges (env.burn charges 10 per unit)
// is counted, whether the host function is called directly or through a
// table (a thunk); a re-exported host function stays callable.
func TestHostCalls(t *testing.T) {
	fixtures := map[string][]byte{}
	for _, cm := range loadFixtures(t) {
		fixtures[cm.name] = cm.wasm
	}
	for _, e := range engines {
		ctx, r := newHost(t, e.compiler)
		for _, tc := range []struct{ module, fn string }{{"calls", "burn"}, {"hostref", "burn_via_global"}} {
			metered, err := Instrument(fixtures[tc.module], Options{})
			if err != nil {
				t.Fatal(err)
			}
			inst, _, err := instantiate(t, ctx, r, metered, true, bigBudget)
			if err != nil {
				t.Fatal(err)
			}
			small := inst.call(t, tc.fn, bigBudget, 10)
			large := inst.call(t, tc.fn, bigBudget, 1000)
			if small.err != nil || large.err != nil {
				t.Fatalf("%s.%s: %v, %v", tc.module, tc.fn, small.err, large.err)
			}
			if d := large.used - small.used; d != 10*990 {
				t.Errorf("%s: %s.%s(1000) used %d more gas than (10), want %d", e.name, tc.module, tc.fn, d, 10*990)
			}
			// Not enough for the host's charge: the host aborts.
			if o := inst.call(t, tc.fn, small.used+100, 1000); !errors.Is(o.err, errOutOfGas) {
				t.Errorf("%s: %s.%s(1000) with too little gas: %v", e.name, tc.module, tc.fn, o)
			}
			if tc.module == "hostref" {
				if o := inst.call(t, "add", bigBudget, 2, 3); o.err != nil || o.results[0] != 5 {
					t.Errorf("%s: re-exported add(2, 3): %v", e.name, o)
				}
			}
		}
	}
}

// sections splits a module into (id, custom name, payload) triples.
func sections(t *testing.T, wasm []byte) []section {
	t.Helper()
	m, err := decodeModule(wasm, true)
	if err != nil {
		t.Fatal(err)
	}
	return m.sections
}

// TestSectionsPreserved: custom sections (but "name"), memories, tables,
// data and the data count come out byte-identical.
func TestSectionsPreserved(t *testing.T) {
	bulk, err := os.ReadFile("testdata/bulk.wasm")
	if err != nil {
		t.Fatal(err)
	}
	// Put custom sections in front, in the middle and at the end.
	custom := func(name, data string) []byte { return sec(secCustom, append(appendName(nil, name), data...)...) }
	var mod []byte
	mod = append(mod, bulk[:8]...)
	mod = append(mod, custom("first", "\x01\x02")...)
	mod = append(mod, bulk[8:]...)
	mod = append(mod, custom("name", "\x00\x00")...)
	mod = append(mod, custom("last", "tail")...)
	for _, wasm := range [][]byte{mod, buildGoModule(t)} {
		out, err := Instrument(wasm, Options{})
		if err != nil {
			t.Fatal(err)
		}
		merged := merges(wasm)
		payloads := func(b []byte) (kept map[string][]string, customs []string) {
			kept = map[string][]string{}
			for _, s := range sections(t, b) {
				switch s.id {
				case secData:
					if !merged { // a merged data section is checked by TestDataSegmentsMerged
						kept["data"] = append(kept["data"], string(b[s.start:s.end]))
					}
				case secCustom:
					customs = append(customs, s.name)
					kept["custom "+s.name] = append(kept["custom "+s.name], string(b[s.start:s.end]))
				case secMemory, secTable, secDataCount:
					kept[sectionNames[s.id]] = append(kept[sectionNames[s.id]], string(b[s.start:s.end]))
				}
			}
			return kept, customs
		}
		in, inCustoms := payloads(wasm)
		got, gotCustoms := payloads(out)
		var wantCustoms []string
		for _, n := range inCustoms {
			if n != "name" {
				wantCustoms = append(wantCustoms, n)
			}
		}
		if !reflect.DeepEqual(gotCustoms, wantCustoms) {
			t.Errorf("custom sections %q, want %q", gotCustoms, wantCustoms)
		}
		delete(in, "custom name")
		if !reflect.DeepEqual(in, got) {
			t.Errorf("preserved sections differ")
		}
	}
}

// TestMinimalModules: modules with nothing to meter still instrument into
// modules wazero runs.
func TestMinimalModules(t *testing.T) {
	mods := map[string][]byte{
		"empty":       wasmModule(),
		"empty func":  wasmModule(typeVoid, oneFunc, exportF, code(emptyBody)),
		"const func":  wasmModule(typeI32, oneFunc, exportF, code([]byte{0, opI32Const, 42, opEnd})),
		"unreachable": wasmModule(typeVoid, oneFunc, exportF, code([]byte{0, opUnreachable, opEnd})),
	}
	for name, wasm := range mods {
		out, err := Instrument(wasm, Options{})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for _, e := range engines {
			ctx, r := newHost(t, e.compiler)
			inst, _, err := instantiate(t, ctx, r, out, true, bigBudget)
			if err != nil {
				t.Fatalf("%s on %s: %v", name, e.name, err)
			}
			if inst.mod.ExportedFunction("f") != nil {
				o := inst.call(t, "f", 100, nil...)
				if name == "unreachable" {
					if o.err == nil || errors.Is(o.err, errOutOfGas) {
						t.Errorf("%s: want a trap, got %v", name, o)
					}
				} else if o.err != nil {
					t.Errorf("%s: %v", name, o)
				}
			}
		}
	}
}

// TestStartFunction: the start function is metered with the budget the host
// gives at instantiation.
func TestStartFunction(t *testing.T) {
	wasm, err := os.ReadFile("testdata/start.wasm")
	if err != nil {
		t.Fatal(err)
	}
	metered, err := Instrument(wasm, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range engines {
		ctx, r := newHost(t, e.compiler)
		_, used, err := instantiate(t, ctx, r, metered, true, bigBudget)
		if err != nil || used <= 0 {
			t.Fatalf("%s: used %d, %v", e.name, used, err)
		}
		if _, _, err := instantiate(t, ctx, r, metered, true, used); err != nil {
			t.Errorf("%s: with exactly %d gas: %v", e.name, used, err)
		}
		if _, _, err := instantiate(t, ctx, r, metered, true, used-1); !errors.Is(err, errOutOfGas) {
			t.Errorf("%s: with %d gas: want out of gas, got %v", e.name, used-1, err)
		}
	}
}

// TestEngineStackLimits measures how deep each engine lets a plain module
// recurse, and checks the default depth limit trips well before: the
// interpreter allows a fixed number of frames (2000 in wazero 1.12), the
// compiler a 400 MB stack. An instrumented call stack holds at most
// DefaultMaxCallDepth counted frames plus the export wrapper, one uncounted
// leaf (a function without calls, a thunk or a charge helper) and a host
// function.
func TestEngineStackLimits(t *testing.T) {
	wasm, err := os.ReadFile("testdata/calls.wasm")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range engines {
		ctx, r := newHost(t, e.compiler)
		in, _, err := instantiate(t, ctx, r, wasm, false, 0)
		if err != nil {
			t.Fatal(err)
		}
		// down(n) nests n+1 frames.
		lo, hi := uint64(0), uint64(1)<<17
		for lo < hi {
			mid := (lo + hi + 1) / 2
			if o := in.call(t, "down", 0, mid); o.err == nil {
				lo = mid
			} else {
				hi = mid - 1
			}
		}
		frames := lo + 1
		t.Logf("%s: a plain recursion reaches %d frames (search capped at %d)", e.name, frames, 1<<17+1)
		if frames < DefaultMaxCallDepth+3+100 {
			t.Errorf("%s: the engine overflows at %d frames, too close to DefaultMaxCallDepth %d", e.name, frames, DefaultMaxCallDepth)
		}
	}
}
