package gas

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"testing"
)

// fingerprint hashes every weight of a cost table.
func fingerprint(t *CostTable) string {
	w := t.classWeights()
	s := fmt.Sprint(w, t.PerPage, t.PerWord, t.PerElement, t.LocalDecl)
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:8])
}

// TestV1Pinned: V1's weights are pinned to its version. Changing any weight
// changes every gas figure ever recorded: give the table a new Version (and
// a new pinned fingerprint here) when you do.
func TestV1Pinned(t *testing.T) {
	const want = "gas-v1"
	const wantPrint = "413cb25a08194ed0"
	if V1.Version != want {
		t.Fatalf("V1.Version = %q, want %q", V1.Version, want)
	}
	if got := fingerprint(&V1); got != wantPrint {
		t.Fatalf("V1's weights changed (fingerprint %s, pinned %s): bump V1.Version", got, wantPrint)
	}
}

func TestCostTableValidation(t *testing.T) {
	bad := []func(*CostTable){
		func(c *CostTable) { c.Version = "" },
		func(c *CostTable) { c.Br = 0 },
		func(c *CostTable) { c.BrTable = 0 },
		func(c *CostTable) { c.IntDiv = maxWeight + 1 },
		func(c *CostTable) { c.PerPage = maxWeight + 1 },
	}
	wasm := []byte("\x00asm\x01\x00\x00\x00")
	for i, mutate := range bad {
		c := V1
		c.Version = "test"
		mutate(&c)
		if _, err := Instrument(wasm, Options{Costs: &c}); !errors.Is(err, ErrBadCostTable) {
			t.Errorf("case %d: want ErrBadCostTable, got %v", i, err)
		}
	}
	c := V1
	c.Version = "test-free-calls"
	c.Call = 0
	if _, err := Instrument(wasm, Options{Costs: &c}); err != nil {
		t.Errorf("a valid table: %v", err)
	}
}

// TestCostsApplied: doubling every weight doubles the gas of a call that
// does no dynamic charges.
func TestCostsApplied(t *testing.T) {
	wasm, err := os.ReadFile("testdata/bench.wasm")
	if err != nil {
		t.Fatal(err)
	}
	double := V1
	double.Version = "double"
	for _, p := range []*uint32{&double.If, &double.Br, &double.BrTable, &double.Return, &double.Unreachable, &double.Call,
		&double.CallIndirect, &double.Local, &double.Global, &double.Const, &double.Parametric, &double.Int, &double.IntMul,
		&double.IntDiv, &double.Float, &double.FloatMul, &double.FloatDiv, &double.Convert, &double.Trunc, &double.Load,
		&double.Store, &double.MemorySize, &double.MemoryGrow, &double.PerPage, &double.Bulk, &double.PerWord,
		&double.PerElement, &double.DropSegment, &double.Ref, &double.TableAccess, &double.TableGrow, &double.LocalDecl} {
		*p *= 2
	}
	var used [2]int64
	for i, costs := range []*CostTable{&V1, &double} {
		metered, err := Instrument(wasm, Options{Costs: costs})
		if err != nil {
			t.Fatal(err)
		}
		ctx, r := newHost(t, false)
		inst, _, err := instantiate(t, ctx, r, metered, true, bigBudget)
		if err != nil {
			t.Fatal(err)
		}
		used[i] = inst.call(t, "fib", bigBudget, 10).used
	}
	if used[1] != 2*used[0] {
		t.Errorf("fib(10): %d gas with V1, %d with every weight doubled", used[0], used[1])
	}
}
