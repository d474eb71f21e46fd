package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/canswarm/swarmhost/internal/plugintest"
)

// The CLI is tested as a user runs it: testscript scripts in
// testdata/script, each running the real swarmhost command in a fresh
// folder.
func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"swarmhost": func() { os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)) },
	})
}

func TestScripts(t *testing.T) {
	plugins := filepath.Dir(plugintest.Path(t, "classifier"))
	wasmCache := t.TempDir() // compiled plugins, shared by every script
	testscript.Run(t, testscript.Params{
		Dir: "testdata/script",
		Setup: func(env *testscript.Env) error {
			// The shared vectors, for scripts that check interoperability.
			env.Setenv("VECTORS", mustAbs("../../abi/envelope/testdata/vectors"))
			// Hand-written swarm_v1 modules, good and adversarial.
			env.Setenv("WASM", mustAbs("../../host/wasm/testdata"))
			// The first-party plugins, built once per test process.
			env.Setenv("PLUGINS", plugins)
			env.Setenv("SWARMHOST_WASM_CACHE", wasmCache)
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"waitnode":     cmdWaitNode,
			"waithealth":   cmdWaitHealth,
			"freeport":     cmdFreePort,
			"checktrails":  cmdCheckTrails,
			"streamids":    cmdStreamIDs,
			"waitconsumed": cmdWaitConsumed,
		},
	})
}

func mustAbs(p string) string {
	wd, err := os.Getwd()
	if err != nil {
		panic(err)
	}
	return wd + "/" + p
}

// The shared vectors, written by an independent implementation of the
// protocol, get their expected verdict from "swarmhost envelope verify".
func TestCLIVerifiesSharedVectors(t *testing.T) {
	text, err := os.ReadFile("../../abi/envelope/testdata/vectors/envelopes.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	n := 0
	for _, line := range strings.Split(strings.TrimSpace(string(text)), "\n") {
		var c struct{ Name, Expect, Envelope string }
		if err := json.Unmarshal([]byte(line), &c); err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, c.Name+".json")
		if err := os.WriteFile(path, []byte(c.Envelope), 0o644); err != nil {
			t.Fatal(err)
		}
		var out, errOut bytes.Buffer
		code := run([]string{"envelope", "verify", path}, strings.NewReader(""), &out, &errOut)
		switch {
		case c.Expect == "ok":
			if code != 0 || !strings.HasPrefix(out.String(), "ok sha256:") {
				t.Errorf("%s: exit %d, %q %q", c.Name, code, out.String(), errOut.String())
			}
		default:
			if code != 1 || !strings.HasPrefix(out.String(), "invalid: "+c.Expect+": ") {
				t.Errorf("%s: exit %d, %q; want invalid: %s", c.Name, code, out.String(), c.Expect)
			}
		}
		n++
	}
	if n < 10 {
		t.Fatalf("only %d vectors", n)
	}
}
