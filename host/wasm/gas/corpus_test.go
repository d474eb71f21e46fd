package gas

import (
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"github.com/tetratelabs/wazero/api"
)

// The corpus: the WAT fixtures in testdata with the calls each test makes,
// and a Go wasip1 reactor built from testdata/goprog.

type call struct {
	fn   string
	args []uint64
}

type corpusModule struct {
	name  string
	wasm  []byte
	init  string // an export to call first ("_initialize"), or ""
	calls []call
}

func c(fn string, args ...uint64) call { return call{fn, args} }

func i32(v int32) uint64   { return api.EncodeI32(v) }
func i64(v int64) uint64   { return api.EncodeI64(v) }
func f64(v float64) uint64 { return api.EncodeF64(v) }

// fixtureCalls lists, per fixture, the calls made in order on one instance.
var fixtureCalls = map[string][]call{
	"bench": {
		c("loop_sum", 1000), c("fib", 15), c("copy_loop", 1), c("bulk_copy", 2), c("sieve", 10000),
	},
	"control": {
		c("if_else", 0), c("if_else", 1), c("if_else", 3), c("if_else", 4), c("if_else", 7), c("if_else", 11), c("if_else", 12),
		c("nested_loops", 0), c("nested_loops", 1), c("nested_loops", 5), c("nested_loops", 30),
		c("switch", 0), c("switch", 1), c("switch", 2), c("switch", 3), c("switch", 4), c("switch", 5), c("switch", i32(-1)),
		c("switch_value", 0), c("switch_value", 1), c("switch_value", 2), c("switch_value", 3),
		c("find_first_multiple", 0), c("find_first_multiple", 1), c("find_first_multiple", 7), c("find_first_multiple", 2000),
		c("break_out", 3), c("break_out", 6), c("break_out", 10), c("break_out", 20),
		c("block_params", 0), c("block_params", 3), c("block_params", 30),
		c("trap_if_big", 1), c("trap_if_big", 5),
		c("div", 10, 3), c("div", 1, 0), c("div", i32(math.MinInt32), i32(-1)),
		c("misc", 0), c("misc", 1), c("if_br", 0), c("if_br", 1),
		c("loop_value", 0), c("loop_value", 10),
	},
	"calls": {
		c("fib", 0), c("fib", 1), c("fib", 10), c("fib", 20),
		c("is_even", 0), c("is_even", 7), c("is_even", 100),
		c("apply", 0, 5), c("apply", 1, 5), c("apply", 2, 5), c("apply", 3, 5), c("apply", 4, 5), c("apply", 5, 5), c("apply", 8, 5),
		c("apply2", 3, 4), c("burn", 10), c("burn", 1000),
		c("down", 0), c("down", 10), c("down", 500), c("sq", 9), c("sum_sq", 100),
	},
	"bulk": {
		c("fill_copy", 0), c("fill_copy", 1), c("fill_copy", 100), c("fill_copy", 4096),
		c("overlap", 5), c("overlap", 19), c("init_drop", 1), c("init_drop", 2),
		c("copy_oob", 100), c("copy_oob", 1000),
		c("tables", 0), c("tables", 1), c("tables", 2), c("tables", 3), c("active"),
	},
	"multivalue": {
		c("divmod", 17, 5), c("divmod", 1, 0), c("triple", 0), c("triple", 5), c("use_divmod", 17, 5),
		c("use_swap", 3), c("sum_triple", 4), c("fib_pair", 1), c("fib_pair", 10), c("fib_pair", 50),
		c("if_multi", 3), c("if_multi", 30),
	},
	"reftypes": {
		c("set_call", 0, 5), c("set_call", 1, 5), c("is_null", 0), c("is_null", 1),
		c("grow_fill", 0), c("grow_fill", 2), c("grow_fill", 100),
		c("externs", 0), c("externs", 3), c("externs", 4), c("fav", 10),
	},
	"numeric": {
		c("sign_ext", 0), c("sign_ext", 127), c("sign_ext", 128), c("sign_ext", i32(-1)), c("sign_ext", 0x12345678),
		c("sat", f64(math.NaN())), c("sat", f64(math.Inf(1))), c("sat", f64(math.Inf(-1))), c("sat", f64(1e20)), c("sat", f64(-5.5)), c("sat", f64(3.7)),
		c("trunc", f64(3.5)), c("trunc", f64(math.NaN())), c("trunc", f64(1e20)),
		c("arith", i64(123456789), i64(-987654321)), c("arith", 0, 0),
		c("floats", f64(2.5), f64(-3.25)), c("floats", f64(0), f64(0)),
		c("reinterpret", f64(1.5)),
	},
	"hostref": {
		c("via_ref", 2, 3), c("burn_via_global", 10), c("burn_via_global", 100),
		c("sum", 10), c("nest", 5, 10), c("nest", 100, 100),
	},
	"memgrow": {
		c("grow", 0), c("grow", 1), c("grow", 3), c("grow", 100), c("grow_store", 1),
	},
	"start": {c("get", 5)},
}

// loadFixtures reads the committed .wasm of every fixture with calls.
func loadFixtures(tb testing.TB) []corpusModule {
	tb.Helper()
	var out []corpusModule
	for _, name := range sortedKeys(fixtureCalls) {
		wasm, err := os.ReadFile(filepath.Join("testdata", name+".wasm"))
		if err != nil {
			tb.Fatal(err)
		}
		out = append(out, corpusModule{name: name, wasm: wasm, calls: fixtureCalls[name]})
	}
	return out
}

var goModule struct {
	once sync.Once
	wasm []byte
	err  error
}

// buildGoModule builds testdata/goprog for wasip1 once per test binary.
func buildGoModule(tb testing.TB) []byte {
	tb.Helper()
	goModule.once.Do(func() {
		goBin, err := exec.LookPath("go")
		if err != nil {
			goModule.err = err
			return
		}
		dir, err := os.MkdirTemp("", "gas-goprog-")
		if err != nil {
			goModule.err = err
			return
		}
		defer os.RemoveAll(dir)
		out := filepath.Join(dir, "goprog.wasm")
		cmd := exec.Command(goBin, "build", "-buildmode=c-shared", "-o", out, "./testdata/goprog")
		cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
		if msg, err := cmd.CombinedOutput(); err != nil {
			goModule.err = &buildError{err, string(msg)}
			return
		}
		goModule.wasm, goModule.err = os.ReadFile(out)
	})
	if goModule.err != nil {
		tb.Skipf("cannot build the Go wasip1 corpus module: %v", goModule.err)
	}
	return goModule.wasm
}

type buildError struct {
	err error
	out string
}

func (e *buildError) Error() string { return e.err.Error() + ": " + e.out }

func goCorpus(tb testing.TB) corpusModule {
	return corpusModule{
		name: "goprog",
		wasm: buildGoModule(tb),
		init: "_initialize",
		calls: []call{
			c("fib", 15), c("sum_loop", 10000), c("json_work", 20), c("sort_work", 500),
			c("recurse", 100), c("copy_work", 5),
		},
	}
}

// fullCorpus is the fixtures and the Go module.
func fullCorpus(tb testing.TB) []corpusModule {
	return append(loadFixtures(tb), goCorpus(tb))
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
