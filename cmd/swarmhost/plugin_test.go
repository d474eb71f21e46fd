package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/canswarm/swarmhost/internal/plugintest"
)

// plugin call works on the first-party Go plugins on both engines, with the
// same output and gas_used.
func TestPluginCallGoPlugins(t *testing.T) {
	defer plugintest.Cleanup()
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	var out, errOut bytes.Buffer
	key := filepath.Join(dir, "k.json")
	if run([]string{"keys", "gen", "--out", key}, nil, &out, &errOut) != 0 {
		t.Fatal(errOut.String())
	}
	payload := filepath.Join(dir, "p.json")
	os.WriteFile(payload, []byte(`{"capability":"classify","input":["refund please","great work"],"k":1,"n":1}`), 0o644)
	out.Reset()
	if run([]string{"envelope", "sign", "--key", key, "--verb", "NEED", "--lamport", "1", "--payload", payload}, nil, &out, &errOut) != 0 {
		t.Fatal(errOut.String())
	}
	input := filepath.Join(dir, "in.json")
	os.WriteFile(input, []byte(`{"envelope":`+strings.TrimSpace(out.String())+`,"self_pk":"`+strings.Repeat("ab", 32)+`","thread":{"state":"OPEN","epoch":1,"fence":0}}`), 0o644)
	for _, name := range plugintest.Names {
		var results []string
		for _, engine := range []string{"compiler", "interpreter"} {
			out.Reset()
			errOut.Reset()
			code := run([]string{"--data", data, "plugin", "call", plugintest.Path(t, name), "--input", input, "--engine", engine}, nil, &out, &errOut)
			if code != 0 {
				t.Fatalf("%s on %s: exit %d: %s", name, engine, code, errOut.String())
			}
			var res struct {
				Output  json.RawMessage `json:"output"`
				GasUsed uint64          `json:"gas_used"`
			}
			if err := json.Unmarshal(out.Bytes(), &res); err != nil || res.GasUsed == 0 {
				t.Fatalf("%s on %s: %q (%v)", name, engine, out.String(), err)
			}
			results = append(results, out.String())
		}
		if results[0] != results[1] {
			t.Fatalf("%s: the engines disagree:\n%s%s", name, results[0], results[1])
		}
	}
}

// plugin call --capsule gives the verifier a capsule: its ATTEST carries the
// digest of the verify evaluation it made.
func TestPluginCallWithCapsule(t *testing.T) {
	defer plugintest.Cleanup()
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	pol := filepath.Join(dir, "pol")
	os.MkdirAll(pol, 0o755)
	os.WriteFile(filepath.Join(pol, "p.rego"), []byte("package swarm\n\ndefault verify := false\n\nverify if input.verdict == \"pass\"\n"), 0o644)
	var out, errOut bytes.Buffer
	if code := run([]string{"--data", data, "policy", "build", pol}, nil, &out, &errOut); code != 0 {
		t.Fatal(errOut.String())
	}
	capsule := strings.TrimSpace(out.String())
	resultRef := strings.TrimSpace(runOK(t, "--data", data, "cas", "put", writeFile(t, dir, "result.json", `{"labels":["billing"]}`)))
	self := strings.Repeat("cd", 32)
	key := filepath.Join(dir, "k.json")
	runOK(t, "keys", "gen", "--out", key)
	commit := runOK(t, "envelope", "sign", "--key", key, "--verb", "COMMIT", "--thread", "sha256:"+strings.Repeat("11", 32), "--lamport", "9",
		"--ref", resultRef, "--payload", writeFile(t, dir, "c.json", `{"epoch":1,"fence":3,"result":"`+resultRef+`"}`))
	input := writeFile(t, dir, "in.json", `{"envelope":`+strings.TrimSpace(commit)+`,"self_pk":"`+self+`","thread":{"state":"COMMITTED","epoch":1,"fence":3,`+
		`"need":{"capability":"classify","input":["refund please"]},"decide":{"epoch":1,"verifiers":["`+self+`"],"fence":3}}}`)
	res := runOK(t, "--data", data, "plugin", "call", plugintest.Path(t, "verifier"), "--input", input, "--capsule", capsule)
	if !strings.Contains(res, `"verb":"ATTEST"`) || !strings.Contains(res, `"verdict":"pass"`) || !strings.Contains(res, `"policy_eval_digest":"sha256:`) {
		t.Fatalf("output %s", res)
	}
}

func runOK(t *testing.T, args ...string) string {
	t.Helper()
	var out, errOut bytes.Buffer
	if code := run(args, nil, &out, &errOut); code != 0 {
		t.Fatalf("%v: exit %d: %s", args, code, errOut.String())
	}
	return out.String()
}

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}
