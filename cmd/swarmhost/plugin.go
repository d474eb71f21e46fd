package main

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/canswarm/swarmhost/host/cas"
	"github.com/canswarm/swarmhost/host/policy"
	"github.com/canswarm/swarmhost/host/wasm"
	"github.com/canswarm/swarmhost/host/wasm/gas"
)

// exitPlugin is the exit status of a plugin fault (out of gas, trap, ...).
const exitPlugin = 3

// pluginFault is a plugin call that faulted: printed as "error: ...", exit 3.
type pluginFault struct{ f *wasm.Fault }

func (p pluginFault) Error() string { return p.f.Error() }

func newPluginCmd(e *env) *cobra.Command {
	inspect := &cobra.Command{
		Use:   "inspect FILE.wasm",
		Short: "Show a plugin's manifest, imports, exports and the wasm features it uses",
		Args:  args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			data, err := e.readInput(a[0])
			if err != nil {
				return err
			}
			info, err := gas.Inspect(data)
			if err != nil {
				return fmt.Errorf("%s: %w", a[0], err)
			}
			report := map[string]any{
				"file": a[0], "size": len(data), "imports": info.Imports, "exports": info.Exports,
				"features": info.Features, "memories": info.Memories,
			}
			ctx := context.Background()
			rt, err := wasm.NewRuntime(ctx, wasm.Config{CacheDir: e.path("wasm-cache")})
			if err != nil {
				return err
			}
			defer rt.Close(ctx)
			mod, err := rt.Load(ctx, filepath.Base(a[0]), data)
			if err != nil {
				report["load_error"] = err.Error()
			} else {
				report["manifest"] = mod.Manifest()
				report["ref"] = mod.Ref()
			}
			out, _ := json.MarshalIndent(report, "", "  ")
			fmt.Fprintf(e.stdout, "%s\n", out)
			if err != nil {
				return quietError{}
			}
			return nil
		},
	}

	var (
		inputPath  string
		budget     uint64
		engine     string
		capsuleArg string
	)
	call := &cobra.Command{
		Use:   "call FILE.wasm --input IN.json [--gas N] [--engine compiler|interpreter] [--capsule FILE|REF]",
		Short: `Run swarm_handle once and print {"output": <AgentOutput>, "gas_used": N}; a plugin fault exits 3`,
		Args:  args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			if engine != string(wasm.EngineCompiler) && engine != string(wasm.EngineInterpreter) {
				return usageError{fmt.Errorf("--engine %q: use compiler or interpreter", engine)}
			}
			data, err := e.readInput(a[0])
			if err != nil {
				return err
			}
			input, err := e.readInput(inputPath)
			if err != nil {
				return err
			}
			if !json.Valid(input) {
				return fmt.Errorf("%s is not JSON (an AgentInput: {\"envelope\", \"self_pk\", \"thread\"})", inputPath)
			}
			ctx := context.Background()
			rt, err := wasm.NewRuntime(ctx, wasm.Config{Engine: wasm.Engine(engine), CacheDir: e.path("wasm-cache"), PoolSize: 1,
				Log: func(module, line string) { fmt.Fprintf(e.stderr, "%s: %s\n", module, line) }})
			if err != nil {
				return err
			}
			defer rt.Close(ctx)
			mod, err := rt.Load(ctx, filepath.Base(a[0]), data)
			if err != nil {
				if f, ok := wasm.AsFault(err); ok {
					return pluginFault{f}
				}
				return err
			}
			store, err := cas.NewFileStore(e.path("cas"))
			if err != nil {
				return err
			}
			callEnv := &wasm.Env{CAS: store, Log: func(level int32, msg string) {
				fmt.Fprintf(e.stderr, "%s: log[%d]: %s\n", mod.Manifest().Name, level, msg)
			}}
			if capsuleArg != "" {
				c, err := e.loadCapsule(ctx, capsuleArg)
				if err != nil {
					return err
				}
				p, err := policy.Load(ctx, rt, c.Ref(), c.Wasm())
				if err != nil {
					return err
				}
				defer p.Close(ctx)
				callEnv.PolicyEval = p.HostFunc()
			}
			res, err := mod.Handle(ctx, input, budget, callEnv)
			if err != nil {
				if f, ok := wasm.AsFault(err); ok {
					return pluginFault{f}
				}
				return err
			}
			output := json.RawMessage("null")
			if res.Output != nil {
				output = res.Output
			}
			out, _ := json.Marshal(struct {
				Output  json.RawMessage `json:"output"`
				GasUsed uint64          `json:"gas_used"`
			}{output, res.GasUsed})
			fmt.Fprintf(e.stdout, "%s\n", out)
			return nil
		},
	}
	call.Flags().StringVar(&inputPath, "input", "", "the AgentInput JSON file, or - for stdin")
	call.Flags().Uint64Var(&budget, "gas", 1_000_000_000, "the call's gas budget")
	call.Flags().StringVar(&engine, "engine", string(wasm.EngineCompiler), "wazero engine: compiler or interpreter")
	call.Flags().StringVar(&capsuleArg, "capsule", "", "a policy capsule (file or ref) that policy_eval evaluates; without one policy_eval answers -5")
	call.MarkFlagRequired("input")
	return group("plugin", "Inspect and call agent plugins", inspect, call)
}
