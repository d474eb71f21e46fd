package compile

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/canswarm/swarmhost/abi/envelope"
	"github.com/gowebpki/jcs"
)

// okCapsule is testdata/ok built once for the tests that only read it.
var okCapsule = sync.OnceValues(func() (*Capsule, error) {
	return Build(context.Background(), "testdata/ok")
})

func okBytes(t testing.TB) []byte {
	t.Helper()
	c, err := okCapsule()
	if err != nil {
		t.Fatal(err)
	}
	return bytes.Clone(c.Bytes())
}

func TestParseRoundTrip(t *testing.T) {
	c := build(t, "testdata/ok")
	p, err := Parse(c.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(p.Bytes(), c.Bytes()) || p.Ref() != c.Ref() || !bytes.Equal(p.Wasm(), c.Wasm()) {
		t.Error("Parse(Build().Bytes()) differs from the capsule built")
	}
	a, _ := json.Marshal(p.Manifest)
	b, _ := json.Marshal(c.Manifest)
	if !bytes.Equal(a, b) {
		t.Errorf("manifest\n%s\nwant\n%s", a, b)
	}
}

// edit decodes a capsule, applies f to its object and re-encodes it in
// canonical form: a capsule that is well-formed JCS but wrong inside.
func edit(t *testing.T, f func(map[string]any)) []byte {
	t.Helper()
	var obj map[string]any
	if err := json.Unmarshal(okBytes(t), &obj); err != nil {
		t.Fatal(err)
	}
	f(obj)
	text, err := json.Marshal(obj)
	if err != nil {
		t.Fatal(err)
	}
	canon, err := jcs.Transform(text)
	if err != nil {
		t.Fatal(err)
	}
	return canon
}

// flipWasm changes one base64 character of the module into another valid
// one, far from the end: the capsule still decodes, to another module.
func flipWasm(t *testing.T) []byte {
	b := okBytes(t)
	i := bytes.Index(b, []byte(`"wasm":"`)) + len(`"wasm":"`) + 1000
	if b[i] == 'A' {
		b[i] = 'B'
	} else {
		b[i] = 'A'
	}
	return b
}

func TestParseRejects(t *testing.T) {
	ok := okBytes(t)
	for _, tc := range []struct {
		name string
		b    []byte
		want string
	}{
		{"empty", nil, "not a JSON object"},
		{"truncated", ok[:len(ok)/2], "not a JSON object"},
		{"truncated by one", ok[:len(ok)-1], "not a JSON object"},
		{"array", []byte("[]"), "not a JSON object"},
		{"bare wasm (opa build -t wasm)", []byte("\x00asm\x01\x00\x00\x00"), "a bare WebAssembly module"},
		{"gzip (an OPA bundle)", []byte{0x1f, 0x8b, 0x08, 0}, "gzip data (an OPA bundle?)"},
		{"flipped wasm byte", flipWasm(t), "the module is corrupt"},
		{"wrong kind", edit(t, func(o map[string]any) { o["kind"] = "opa-bundle" }), `kind "opa-bundle", want "canswarm-capsule"`},
		{"kind missing", edit(t, func(o map[string]any) { delete(o, "kind") }), `missing field "kind"`},
		{"future version", edit(t, func(o map[string]any) { o["v"] = 2 }), "capsule format version 2, this host reads 1"},
		{"other abi", edit(t, func(o map[string]any) { o["abi"] = 7 }), "capsule ABI 7"},
		{"field missing", edit(t, func(o map[string]any) { delete(o, "source") }), `missing field "source"`},
		{"extra field", edit(t, func(o map[string]any) { o["zz"] = 1 }), `unknown field "zz"`},
		{"null field", edit(t, func(o map[string]any) { o["host_builtins"] = nil }), `field "host_builtins" is null`},
		{"string for int", edit(t, func(o map[string]any) { o["abi"] = "1" }), `field "abi"`},
		{"fractional id", edit(t, func(o map[string]any) { o["entrypoints"].(map[string]any)["swarm/admit"] = 0.5 }), `field "entrypoints"`},
		{"unknown entrypoint", edit(t, func(o map[string]any) {
			eps := o["entrypoints"].(map[string]any)
			eps["swarm/allow"] = eps["swarm/admit"]
			delete(eps, "swarm/admit")
		}), `unknown entrypoint "swarm/allow"`},
		{"duplicate id", edit(t, func(o map[string]any) { o["entrypoints"].(map[string]any)["swarm/bid"] = 0 }), "ids are 0 to 3, each once"},
		{"no entrypoints", edit(t, func(o map[string]any) { o["entrypoints"] = map[string]any{} }), "0 entrypoints"},
		{"forbidden host builtin", edit(t, func(o map[string]any) { o["host_builtins"] = []any{"time.now_ns"} }), `host builtin "time.now_ns" is not allowed`},
		{"unknown host builtin", edit(t, func(o map[string]any) { o["host_builtins"] = []any{"no.such"} }), `host builtin "no.such" is not allowed`},
		{"unsorted host builtins", edit(t, func(o map[string]any) { o["host_builtins"] = []any{"sprintf", "concat"} }), "not sorted"},
		{"repeated host builtin", edit(t, func(o map[string]any) { o["host_builtins"] = []any{"sprintf", "sprintf"} }), "listed twice"},
		{"bad capabilities", edit(t, func(o map[string]any) { o["capabilities"] = "sha256:xyz" }), "is not a ref"},
		{"bad wasm_hash", edit(t, func(o map[string]any) { o["wasm_hash"] = envelope.HashRef(nil) }), "the module is corrupt"},
		{"not wasm", edit(t, func(o map[string]any) {
			o["wasm"] = base64.StdEncoding.EncodeToString([]byte("hello"))
			o["wasm_hash"] = envelope.HashRef([]byte("hello"))
		}), "bad header"},
		{"bad base64", edit(t, func(o map[string]any) { o["wasm"] = "!!!" }), `field "wasm"`},
		{"test source", edit(t, func(o map[string]any) { o["source"] = map[string]any{"a_test.rego": envelope.HashRef(nil)} }), `source file name "a_test.rego" is not allowed`},
		{"source path", edit(t, func(o map[string]any) { o["source"] = map[string]any{"../a.rego": envelope.HashRef(nil)} }), "is not allowed"},
		{"no source", edit(t, func(o map[string]any) { o["source"] = map[string]any{} }), "source lists 0 files"},
		{"wasm_abi 2", edit(t, func(o map[string]any) { o["wasm_abi"] = map[string]any{"version": 2, "minor": 0} }), "wasm_abi 2.0, want 1.x"},
		{"wasm_abi extra", edit(t, func(o map[string]any) { o["wasm_abi"] = map[string]any{"version": 1, "minor": 3, "x": 1} }), `field "wasm_abi"`},
		{"opa version", edit(t, func(o map[string]any) { o["opa_version"] = "1.0 beta" }), "is not a version"},
		{"whitespace", append(append([]byte{}, ok...), '\n'), "not in canonical form"},
		{"indented", func() []byte {
			var buf bytes.Buffer
			_ = json.Indent(&buf, ok, "", " ")
			return buf.Bytes()
		}(), "not in canonical form"},
		{"key order", append(bytes.Replace(ok, []byte(`{"abi":1,`), []byte(`{`), 1)[:len(ok)-len(`"abi":1,`)-1], []byte(`,"abi":1}`)...), "not in canonical form"},
		{"duplicate key", append([]byte(`{"abi":1,`), ok[1:]...), "not in canonical form"},
		{"base64 with a line break", func() []byte {
			// The base64 decoder skips line breaks: the same module, other bytes.
			i := bytes.Index(ok, []byte(`"wasm":"`)) + len(`"wasm":"`) + 76
			return append(append(bytes.Clone(ok[:i]), `\n`...), ok[i:]...)
		}(), "not in canonical form"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Parse(tc.b)
			if err == nil {
				t.Fatalf("Parse accepted it (ref %s)", c.Ref())
			}
			if !errors.Is(err, ErrBadCapsule) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want ErrBadCapsule and %q", err, tc.want)
			}
		})
	}
}

func TestParseCopiesInput(t *testing.T) {
	b := okBytes(t)
	c, err := Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	ref := c.Ref()
	b[0] = 'x'
	if c.Bytes()[0] != '{' || envelope.HashRef(c.Bytes()) != ref {
		t.Error("the capsule shares the caller's slice")
	}
}

// tinyCapsule is a valid capsule around a stand-in module (a wasm header
// and a few bytes): Parse checks the module's header and hash, not its
// code, and a small seed lets the fuzzer explore quickly.
func tinyCapsule(t testing.TB) []byte {
	t.Helper()
	wasm := append(bytes.Clone(wasmHeader), 0x00, 0x01, 0x02)
	c, err := newCapsule(Manifest{
		V: FormatVersion, Kind: Kind, ABI: ABIVersion, OPAVersion: "1.22.3",
		WasmABI:      WasmABI{Version: 1, Minor: 3},
		Entrypoints:  map[string]int{"swarm/admit": 0, "swarm/verify": 1},
		Capabilities: CapabilitiesRef(),
		HostBuiltins: []string{"sprintf", "strings.count"},
		WasmHash:     envelope.HashRef(wasm),
		Source:       map[string]string{"policy.rego": envelope.HashRef(nil)},
	}, wasm)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Parse(c.Bytes()); err != nil {
		t.Fatalf("the tiny capsule does not parse: %v", err)
	}
	return c.Bytes()
}

func FuzzParseCapsule(f *testing.F) {
	tiny := tinyCapsule(f)
	f.Add(tiny)
	f.Add(tiny[:len(tiny)/2])
	f.Add(bytes.Replace(tiny, []byte(`"swarm/admit":0`), []byte(`"swarm/admit":1`), 1))
	f.Add([]byte(`{"kind":"canswarm-capsule","v":1}`))
	f.Add([]byte("null"))
	f.Add([]byte(`{"kind":null}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := Parse(b)
		if err != nil {
			if !errors.Is(err, ErrBadCapsule) {
				t.Fatalf("error %v does not match ErrBadCapsule", err)
			}
			return
		}
		// Accepted: it is canonical, so it encodes back to itself.
		again, err := encode(&c.Manifest, c.Wasm())
		if err != nil || !bytes.Equal(again, b) || c.Ref() != envelope.HashRef(b) {
			t.Fatalf("accepted capsule does not re-encode to its bytes (%v)", err)
		}
	})
}
