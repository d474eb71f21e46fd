package compile

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
)

// moduleFacts are what the compiled wasm says about itself through the OPA
// ABI: the ground truth the manifest records.
type moduleFacts struct {
	abiVersion, abiMinor int
	entrypoints          map[string]int // the "entrypoints" export's object
	builtins             map[string]int // the "builtins" export's object: host builtins
	memoryMinPages       uint32         // the env.memory import's minimum
}

// introspect instantiates the policy module once, in wazero's interpreter
// with only the WebAssembly 1.0 (MVP) features, and reads its ABI version
// globals and the objects its "entrypoints" and "builtins" exports return.
// Doing so also proves that the module loads the way the evaluator loads it.
//
// The OPA module imports its memory from "env", which a wazero host module
// cannot export; a generated glue module named "env" defines the memory and
// re-exports host functions (here, stubs that fail if called).
func introspect(ctx context.Context, wasm []byte) (*moduleFacts, error) {
	cfg := wazero.NewRuntimeConfigInterpreter().WithCoreFeatures(api.CoreFeaturesV1)
	rt := wazero.NewRuntimeWithConfig(ctx, cfg)
	defer rt.Close(ctx)

	policy, err := rt.CompileModule(ctx, wasm)
	if err != nil {
		return nil, fmt.Errorf("compile the policy module: %w", err)
	}
	mems := policy.ImportedMemories()
	if len(mems) != 1 {
		return nil, fmt.Errorf("the policy module imports %d memories, want 1", len(mems))
	}
	if mod, name, _ := mems[0].Import(); mod != "env" || name != "memory" {
		return nil, fmt.Errorf("the policy module imports its memory as %s.%s, want env.memory", mod, name)
	}
	facts := &moduleFacts{memoryMinPages: mems[0].Min()}

	// Host functions: every function import, all from "env".
	imports := policy.ImportedFunctions()
	host := rt.NewHostModuleBuilder(glueHostModule)
	var glue []glueFunc
	for _, f := range imports {
		mod, name, _ := f.Import()
		if mod != "env" {
			return nil, fmt.Errorf("the policy module imports %s.%s: only env imports are expected", mod, name)
		}
		params, results := f.ParamTypes(), f.ResultTypes()
		glue = append(glue, glueFunc{name: name, params: params, results: results})
		host.NewFunctionBuilder().
			WithGoModuleFunction(api.GoModuleFunc(func(context.Context, api.Module, []uint64) {
				panic(fmt.Errorf("the policy module called env.%s while it was introspected", name))
			}), params, results).
			Export(name)
	}
	if _, err := host.Instantiate(ctx); err != nil {
		return nil, fmt.Errorf("instantiate the host stubs: %w", err)
	}
	env := glueModule(glue, facts.memoryMinPages, facts.memoryMinPages+introspectSparePages)
	if _, err := rt.InstantiateWithConfig(ctx, env, wazero.NewModuleConfig().WithName("env")); err != nil {
		return nil, fmt.Errorf("instantiate the env glue: %w", err)
	}
	mod, err := rt.InstantiateModule(ctx, policy, wazero.NewModuleConfig().WithName("policy"))
	if err != nil {
		return nil, fmt.Errorf("instantiate the policy module: %w", err)
	}

	for _, g := range []struct {
		name string
		dst  *int
	}{{"opa_wasm_abi_version", &facts.abiVersion}, {"opa_wasm_abi_minor_version", &facts.abiMinor}} {
		glob := mod.ExportedGlobal(g.name)
		if glob == nil {
			return nil, fmt.Errorf("the policy module exports no global %s", g.name)
		}
		*g.dst = int(int32(glob.Get()))
	}
	if facts.entrypoints, err = dumpObject(ctx, mod, "entrypoints"); err != nil {
		return nil, err
	}
	if facts.builtins, err = dumpObject(ctx, mod, "builtins"); err != nil {
		return nil, err
	}
	return facts, nil
}

// introspectSparePages is the memory beyond the import's minimum that
// introspection allows itself: the two small objects it dumps need little.
const introspectSparePages = 16

// dumpObject calls the export fn, which returns the address of an OPA value,
// serializes it with opa_json_dump and decodes it as a {string: int} object.
func dumpObject(ctx context.Context, mod api.Module, fn string) (map[string]int, error) {
	addr, err := call(ctx, mod, fn)
	if err != nil {
		return nil, err
	}
	str, err := call(ctx, mod, "opa_json_dump", addr)
	if err != nil {
		return nil, err
	}
	mem := mod.Memory()
	if mem == nil {
		return nil, errors.New("the policy module exposes no memory")
	}
	text, ok := mem.Read(uint32(str), mem.Size()-uint32(str))
	if !ok {
		return nil, fmt.Errorf("opa_json_dump returned %#x, outside memory", str)
	}
	end := bytes.IndexByte(text, 0)
	if end < 0 {
		return nil, errors.New("opa_json_dump returned an unterminated string")
	}
	out := map[string]int{}
	if err := json.Unmarshal(text[:end], &out); err != nil {
		return nil, fmt.Errorf("%s returned %.200q: %w", fn, text[:end], err)
	}
	return out, nil
}

func call(ctx context.Context, mod api.Module, fn string, args ...uint64) (uint64, error) {
	f := mod.ExportedFunction(fn)
	if f == nil {
		return 0, fmt.Errorf("the policy module exports no function %s", fn)
	}
	res, err := f.Call(ctx, args...)
	if err != nil {
		return 0, fmt.Errorf("call %s: %w", fn, err)
	}
	if len(res) != 1 {
		return 0, fmt.Errorf("%s returned %d values, want 1", fn, len(res))
	}
	return uint64(uint32(res[0])), nil
}
