package compile

import (
	"context"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
)

// TestModuleShape checks what doc.go tells the evaluator about the module.
func TestModuleShape(t *testing.T) {
	c := build(t, "testdata/ok")
	ctx := context.Background()
	rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigInterpreter().WithCoreFeatures(api.CoreFeaturesV1))
	defer rt.Close(ctx)
	m, err := rt.CompileModule(ctx, c.Wasm())
	if err != nil {
		t.Fatalf("not a WebAssembly 1.0 module: %v", err)
	}
	mems := m.ImportedMemories()
	if len(mems) != 1 {
		t.Fatalf("%d memory imports", len(mems))
	}
	if mod, name, _ := mems[0].Import(); mod != "env" || name != "memory" || mems[0].Min() < 1 {
		t.Errorf("memory import %s.%s min %d", mod, name, mems[0].Min())
	}
	if max, ok := mems[0].Max(); ok {
		t.Errorf("memory import has a maximum (%d): doc.go says it has none", max)
	}
	known := map[string]int{ // name -> number of i32 parameters
		"opa_abort": 1, "opa_println": 1,
		"opa_builtin0": 2, "opa_builtin1": 3, "opa_builtin2": 4, "opa_builtin3": 5, "opa_builtin4": 6,
	}
	for _, f := range m.ImportedFunctions() {
		mod, name, _ := f.Import()
		n, ok := known[name]
		if mod != "env" || !ok || len(f.ParamTypes()) != n {
			t.Errorf("unexpected import %s.%s%v", mod, name, f.ParamTypes())
		}
		if name == "opa_println" {
			t.Error("the module imports opa_println: doc.go says print calls are erased")
		}
	}
	exports := m.ExportedFunctions()
	for _, name := range []string{
		"opa_eval", "eval", "builtins", "entrypoints", "opa_malloc", "opa_free", "opa_json_parse",
		"opa_json_dump", "opa_value_parse", "opa_value_dump", "opa_heap_ptr_get", "opa_heap_ptr_set",
		"opa_eval_ctx_new", "opa_eval_ctx_set_input", "opa_eval_ctx_set_data",
		"opa_eval_ctx_set_entrypoint", "opa_eval_ctx_get_result",
	} {
		if _, ok := exports[name]; !ok {
			t.Errorf("no export %s", name)
		}
	}
	if _, ok := m.ExportedMemories()["memory"]; !ok {
		t.Error("the module does not re-export its memory as \"memory\"")
	}

	facts, err := introspect(ctx, c.Wasm())
	if err != nil {
		t.Fatal(err)
	}
	if facts.abiVersion != 1 || facts.abiMinor != 3 {
		t.Errorf("wasm ABI %d.%d, doc.go says 1.3", facts.abiVersion, facts.abiMinor)
	}
	if facts.builtins["sprintf"] == facts.builtins["strings.count"] {
		t.Errorf("builtin ids %v", facts.builtins)
	}
}
