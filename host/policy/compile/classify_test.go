package compile

import (
	"bytes"
	"context"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
	_ "github.com/open-policy-agent/opa/v1/features/wasm" // OPA's own wasm engine, for TestClassifyOnOPAWasm
	"github.com/open-policy-agent/opa/v1/tester"
)

// classifyDir is the capsule of the demo task.
const classifyDir = "../../../policies/classify"

func TestClassifyPolicy(t *testing.T) {
	var out bytes.Buffer
	passed, failed, err := Test(context.Background(), classifyDir, &out)
	if err != nil || failed != 0 || passed < 12 {
		t.Fatalf("%d passed, %d failed, %v\n%s", passed, failed, err, &out)
	}
	c := build(t, classifyDir)
	m := c.Manifest
	if len(m.Entrypoints) != 4 {
		t.Errorf("entrypoints %v, want admit, bid, verify and route", m.Entrypoints)
	}
	// Everything it calls is compiled into the module: an evaluator needs
	// no host builtin for the demo.
	if len(m.HostBuiltins) != 0 {
		t.Errorf("host_builtins %v, want none", m.HostBuiltins)
	}
	if _, ok := m.Source["classify_test.rego"]; ok || len(m.Source) != 1 {
		t.Errorf("source %v", m.Source)
	}
}

// TestClassifyOnOPAWasm runs the classify tests again with OPA's own wasm
// engine: each test compiled to wasm the way Build compiles the capsule. It
// shows that, for this policy, the wasm and OPA's interpreter agree.
func TestClassifyOnOPAWasm(t *testing.T) {
	if testing.Short() {
		t.Skip("compiles each test to wasm")
	}
	files, err := readSources(classifyDir, true)
	if err != nil {
		t.Fatal(err)
	}
	modules := map[string]*ast.Module{}
	for _, f := range files {
		modules[f.name] = f.module
	}
	r := tester.NewRunner().
		SetCompiler(ast.NewCompiler().WithCapabilities(Capabilities()).WithDefaultRegoVersion(ast.RegoV1)).
		SetDefaultRegoVersion(ast.RegoV1).
		SetParallel(1).
		Target("wasm").
		SetModules(modules)
	ch, err := r.RunTests(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for res := range ch {
		n++
		if !res.Pass() {
			t.Errorf("%s: %v (error %v)", res.Name, res.Fail, res.Error)
		}
	}
	if n < 12 {
		t.Errorf("%d tests ran", n)
	}
}
