package compile

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"testing/fstest"

	"github.com/canswarm/swarmhost/abi/envelope"
	"github.com/open-policy-agent/opa/v1/ast"
	opacompile "github.com/open-policy-agent/opa/v1/compile"
	"github.com/open-policy-agent/opa/v1/version"
)

// Build compiles the policy in dir (its *.rego files, *_test.rego excluded)
// into a capsule. See the package documentation for the rules a policy
// follows and the errors Build reports.
func Build(ctx context.Context, dir string) (*Capsule, error) {
	files, err := readSources(dir, false)
	if err != nil {
		return nil, err
	}
	entrypoints, err := checkPackages(files)
	if err != nil {
		return nil, err
	}

	// OPA reads the sources from memory: exactly the bytes hashed into
	// the manifest, whatever happens to the folder meanwhile.
	fsys := fstest.MapFS{}
	source := map[string]string{}
	var paths []string
	for _, f := range files {
		if f.test {
			continue
		}
		fsys[f.name] = &fstest.MapFile{Data: f.text, Mode: 0o444}
		source[f.name] = envelope.HashRef(f.text)
		paths = append(paths, f.name)
	}

	c := opacompile.New().
		WithTarget(opacompile.TargetWasm).
		WithEntrypoints(entrypoints...).
		// Without pruning, OPA also exports every rule that depends on an
		// entrypoint; with it, the module's entrypoints are exactly ours.
		WithPruneUnused(true).
		WithRegoVersion(ast.RegoV1).
		WithCapabilities(Capabilities()).
		WithEnablePrintStatements(false).
		WithFS(fsys).
		WithPaths(paths...)
	if err := c.Build(ctx); err != nil {
		return nil, policyError(err)
	}
	mods := c.Bundle().WasmModules
	if len(mods) != 1 {
		return nil, fmt.Errorf("compile: OPA produced %d wasm modules, want 1", len(mods))
	}
	wasm := mods[0].Raw

	facts, err := introspect(ctx, wasm)
	if err != nil {
		return nil, fmt.Errorf("compile: the compiled module: %w", err)
	}
	if err := checkFacts(facts, entrypoints); err != nil {
		return nil, fmt.Errorf("compile: the compiled module: %w", err)
	}

	m := Manifest{
		V:            FormatVersion,
		Kind:         Kind,
		ABI:          ABIVersion,
		OPAVersion:   version.Version,
		WasmABI:      WasmABI{Version: facts.abiVersion, Minor: facts.abiMinor},
		Entrypoints:  facts.entrypoints,
		Capabilities: CapabilitiesRef(),
		HostBuiltins: slices.Sorted(maps.Keys(facts.builtins)),
		WasmHash:     envelope.HashRef(wasm),
		Source:       source,
	}
	capsule, err := newCapsule(m, wasm)
	if err != nil {
		return nil, err
	}
	// What Build returns, Parse accepts: read it back as any host would.
	parsed, err := Parse(capsule.Bytes())
	if err != nil {
		return nil, fmt.Errorf("compile: the capsule built does not parse: %w", err)
	}
	return parsed, nil
}

// checkFacts checks what the module reports against what was asked for.
func checkFacts(f *moduleFacts, entrypoints []string) error {
	if f.abiVersion != 1 {
		return fmt.Errorf("OPA wasm ABI version %d.%d, want 1.x", f.abiVersion, f.abiMinor)
	}
	got := slices.Sorted(maps.Keys(f.entrypoints))
	want := slices.Sorted(slices.Values(entrypoints))
	if !slices.Equal(got, want) {
		return fmt.Errorf("entrypoints %v, want %v", got, want)
	}
	for name := range f.builtins {
		if !allowed(name) {
			return fmt.Errorf("it calls out for builtin %s, which is not allowed", name)
		}
	}
	return nil
}

// policyError reports an OPA compile failure: as a *PolicyError naming
// file:line when OPA's error carries locations.
func policyError(err error) error {
	var list ast.Errors
	var one *ast.Error
	if errors.As(err, &list) || errors.As(err, &one) {
		return joinPolicyErrors(astErrors(err))
	}
	return fmt.Errorf("%w: %w", ErrInvalidPolicy, err)
}
