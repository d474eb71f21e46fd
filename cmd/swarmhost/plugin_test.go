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
