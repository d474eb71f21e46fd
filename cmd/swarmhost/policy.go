package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/canswarm/swarmhost/abi/envelope"
	"github.com/canswarm/swarmhost/host/cas"
	"github.com/canswarm/swarmhost/host/policy"
	"github.com/canswarm/swarmhost/host/policy/compile"
	"github.com/canswarm/swarmhost/host/wasm"
	"github.com/canswarm/swarmhost/internal/atomicfile"
)

func newPolicyCmd(e *env) *cobra.Command {
	var out string
	build := &cobra.Command{
		Use:   "build DIR -o FILE",
		Short: "Compile a folder of Rego (package swarm) into a capsule file, store it in the CAS and print its ref",
		Args:  args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			ctx := context.Background()
			c, err := compile.Build(ctx, a[0])
			if err != nil {
				return err
			}
			if out != "" {
				if err := atomicfile.Write(out, c.Bytes(), atomicfile.Options{Perm: 0o644}); err != nil {
					return err
				}
			}
			return e.withCAS(ctx, func(s cas.Store) error {
				ref, err := c.Store(ctx, s)
				if err != nil {
					return err
				}
				fmt.Fprintln(e.stdout, ref)
				return nil
			})
		},
	}
	build.Flags().StringVarP(&out, "out", "o", "", "where to write the capsule file")

	var (
		capsuleArg, entrypoint, inputPath, engine string
		budget                                    uint64
	)
	eval := &cobra.Command{
		Use:   "eval --capsule FILE|REF --entrypoint NAME --input IN.json [--gas N] [--engine compiler|interpreter]",
		Short: `Evaluate a capsule entrypoint: prints {"result": ..., "gas_used": N, "digest": "sha256:..."}; out of gas exits 3`,
		Args:  args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if engine != string(wasm.EngineCompiler) && engine != string(wasm.EngineInterpreter) {
				return usageError{fmt.Errorf("--engine %q: use compiler or interpreter", engine)}
			}
			ctx := context.Background()
			c, err := e.loadCapsule(ctx, capsuleArg)
			if err != nil {
				return err
			}
			input, err := e.readInput(inputPath)
			if err != nil {
				return err
			}
			if !json.Valid(input) {
				return fmt.Errorf("%s is not JSON", inputPath)
			}
			rt, err := wasm.NewRuntime(ctx, wasm.Config{Engine: wasm.Engine(engine), CacheDir: e.path("wasm-cache")})
			if err != nil {
				return err
			}
			defer rt.Close(ctx)
			p, err := policy.Load(ctx, rt, c.Ref(), c.Wasm())
			if err != nil {
				return err
			}
			defer p.Close(ctx)
			res, err := p.Eval(ctx, entrypoint, input, budget)
			if err != nil {
				if f, ok := wasm.AsFault(err); ok {
					return pluginFault{f}
				}
				return err
			}
			text, _ := json.Marshal(res)
			fmt.Fprintf(e.stdout, "%s\n", text)
			return nil
		},
	}
	f := eval.Flags()
	f.StringVar(&capsuleArg, "capsule", "", "a capsule file, or the ref of a capsule in the CAS")
	f.StringVar(&entrypoint, "entrypoint", "", "admit, bid, verify or route")
	f.StringVar(&inputPath, "input", "", "the input JSON file, or - for stdin")
	f.Uint64Var(&budget, "gas", 1_000_000_000, "the evaluation's gas budget")
	f.StringVar(&engine, "engine", string(wasm.EngineCompiler), "wazero engine: compiler or interpreter")
	for _, n := range []string{"capsule", "entrypoint", "input"} {
		eval.MarkFlagRequired(n)
	}

	test := &cobra.Command{
		Use:   "test DIR",
		Short: "Run the Rego tests in DIR (test_ rules in *_test.rego) and report like opa test",
		Args:  args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			_, failed, err := compile.Test(context.Background(), a[0], e.stdout)
			if err != nil {
				return err
			}
			if failed > 0 {
				return quietError{}
			}
			return nil
		},
	}

	inspect := &cobra.Command{
		Use:   "inspect FILE|REF",
		Short: "Show a capsule's ref and manifest",
		Args:  args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			c, err := e.loadCapsule(context.Background(), a[0])
			if err != nil {
				return err
			}
			text, _ := json.MarshalIndent(struct {
				Ref      string           `json:"ref"`
				Size     int              `json:"size"`
				Manifest compile.Manifest `json:"manifest"`
			}{c.Ref(), len(c.Bytes()), c.Manifest}, "", "  ")
			fmt.Fprintf(e.stdout, "%s\n", text)
			return nil
		},
	}
	return group("policy", "Build, test, inspect and evaluate policy capsules (Rego compiled to WebAssembly)", build, eval, test, inspect)
}

// loadCapsule reads a capsule from a file, or from the CAS by ref.
func (e *env) loadCapsule(ctx context.Context, arg string) (*compile.Capsule, error) {
	data, err := os.ReadFile(arg)
	if errors.Is(err, os.ErrNotExist) && envelope.IsRef(arg) {
		err = e.withCAS(ctx, func(s cas.Store) error {
			var gerr error
			data, gerr = s.Get(ctx, arg)
			return gerr
		})
	}
	if err != nil {
		return nil, fmt.Errorf("capsule %s: %w", arg, err)
	}
	c, err := compile.Parse(data)
	if err != nil {
		return nil, fmt.Errorf("capsule %s: %w", arg, err)
	}
	return c, nil
}
