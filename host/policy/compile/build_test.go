package compile

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/canswarm/swarmhost/abi/envelope"
)

var update = flag.Bool("update", false, "rewrite testdata/ok.ref")

// build builds dir or fails the test.
func build(t testing.TB, dir string) *Capsule {
	t.Helper()
	c, err := Build(context.Background(), dir)
	if err != nil {
		t.Fatalf("Build(%s): %v", dir, err)
	}
	return c
}

// policyDir writes files into a fresh folder.
func policyDir(t testing.TB, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestBuildIsDeterministic(t *testing.T) {
	a, b := build(t, "testdata/ok"), build(t, "testdata/ok")
	if !bytes.Equal(a.Wasm(), b.Wasm()) {
		t.Error("two builds of testdata/ok give different wasm")
	}
	if !bytes.Equal(a.Bytes(), b.Bytes()) || a.Ref() != b.Ref() {
		t.Errorf("two builds of testdata/ok give different capsules: %s, %s", a.Ref(), b.Ref())
	}
	if got := envelope.HashRef(a.Bytes()); got != a.Ref() {
		t.Errorf("Ref() = %s, HashRef(Bytes()) = %s", a.Ref(), got)
	}
}

// TestGoldenRef pins the capsule of testdata/ok across processes and
// machines. A change of OPA, of the allowlist or of the format changes it:
// then check the change is meant, and run go test -run TestGoldenRef -update.
func TestGoldenRef(t *testing.T) {
	c := build(t, "testdata/ok")
	const golden = "testdata/ok.ref"
	if *update {
		if err := os.WriteFile(golden, []byte(c.Ref()+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Ref(); got != strings.TrimSpace(string(want)) {
		t.Errorf("capsule of testdata/ok is %s, golden %s", got, want)
	}
}

func TestManifest(t *testing.T) {
	c := build(t, "testdata/ok")
	m := c.Manifest
	if m.V != 1 || m.Kind != "canswarm-capsule" || m.ABI != 1 || m.OPAVersion != "1.22.3" {
		t.Errorf("header v=%d kind=%q abi=%d opa=%q", m.V, m.Kind, m.ABI, m.OPAVersion)
	}
	if m.WasmABI.Version != 1 {
		t.Errorf("wasm ABI %+v", m.WasmABI)
	}
	want := map[string]int{"swarm/admit": 0, "swarm/bid": 1, "swarm/verify": 2, "swarm/route": 3}
	if len(m.Entrypoints) != len(want) {
		t.Errorf("entrypoints %v, want %v", m.Entrypoints, want)
	}
	for k, v := range want {
		if m.Entrypoints[k] != v {
			t.Errorf("entrypoints %v, want %v", m.Entrypoints, want)
		}
	}
	// sprintf and strings.count are not among the builtins OPA compiles
	// into the module; count, ==, > and - are.
	if hb := m.HostBuiltins; !slices.Equal(hb, []string{"sprintf", "strings.count"}) {
		t.Errorf("host_builtins %v, want [sprintf strings.count]", hb)
	}
	text, _ := os.ReadFile("testdata/ok/policy.rego")
	if len(m.Source) != 1 || m.Source["policy.rego"] != envelope.HashRef(text) {
		t.Errorf("source %v: want policy.rego only, tests excluded", m.Source)
	}
	if m.Capabilities != CapabilitiesRef() || m.WasmHash != envelope.HashRef(c.Wasm()) {
		t.Errorf("capabilities %s wasm_hash %s", m.Capabilities, m.WasmHash)
	}
}

func TestBuildSomeEntrypoints(t *testing.T) {
	dir := policyDir(t, map[string]string{
		"a.rego": "package swarm\n\nverify := true\n",
		"b.rego": "package swarm.lib\n\nlimit := 3\n",
		"c.rego": "package swarm\n\nbid if data.swarm.lib.limit > 2\n",
	})
	c := build(t, dir)
	if e := c.Manifest.Entrypoints; len(e) != 2 || e["swarm/bid"] != 0 || e["swarm/verify"] != 1 {
		t.Errorf("entrypoints %v, want swarm/bid 0 and swarm/verify 1", e)
	}
	if len(c.Manifest.Source) != 3 || len(c.Manifest.HostBuiltins) != 0 {
		t.Errorf("source %v host_builtins %v", c.Manifest.Source, c.Manifest.HostBuiltins)
	}
}

func TestForbiddenBuiltins(t *testing.T) {
	for _, tc := range []struct{ call, name, reason string }{
		{"time.now_ns()", "time.now_ns", "it reads the clock"},
		{`rand.intn("k", 10)`, "rand.intn", "it draws random numbers"},
		{`http.send({"method": "GET", "url": "http://x"})`, "http.send", "it makes network requests"},
		{`uuid.rfc4122("k")`, "uuid.rfc4122", "it draws random numbers"},
		{"opa.runtime()", "opa.runtime", "it reads the host's runtime environment"},
		{`net.lookup_ip_addr("example.com")`, "net.lookup_ip_addr", "it makes DNS lookups"},
		{`time.date([0, "Local"])`, "time.date", "its time zone argument reads the host's zone or time zone database"},
		{`crypto.x509.parse_and_verify_certificates("x")`, "crypto.x509.parse_and_verify_certificates", "it reads the clock"},
		{`io.jwt.encode_sign({}, {}, {})`, "io.jwt.encode_sign", "it signs with random nonces"},
		{`trace("x")`, "trace", "it writes to the evaluation trace, which a capsule does not have"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := "package swarm\n\ndefault admit := false\n\nadmit if {\n\tinput.ok\n\tx := " + tc.call + "\n\tx\n}\n"
			_, err := Build(context.Background(), policyDir(t, map[string]string{"policy.rego": src}))
			want := "policy.rego:7: " + tc.name + " is not allowed: " + tc.reason
			if err == nil || err.Error() != want {
				t.Fatalf("error %v, want %q", err, want)
			}
			var be *BuiltinError
			if !errors.Is(err, ErrInvalidPolicy) || !errors.Is(err, ErrForbiddenBuiltin) || !errors.As(err, &be) {
				t.Fatalf("error %v does not match ErrInvalidPolicy, ErrForbiddenBuiltin and *BuiltinError", err)
			}
			if be.File != "policy.rego" || be.Line != 7 || be.Builtin != tc.name {
				t.Errorf("BuiltinError %+v", be)
			}
		})
	}
}

func TestForbiddenBuiltinsAllReported(t *testing.T) {
	src := "package swarm\n\nadmit if time.now_ns() > 0\n\nbid if rand.intn(\"k\", 3) == 1\n"
	_, err := Build(context.Background(), policyDir(t, map[string]string{"p.rego": src}))
	want := "p.rego:3: time.now_ns is not allowed: it reads the clock\n" +
		"p.rego:5: rand.intn is not allowed: it draws random numbers"
	if err == nil || err.Error() != want {
		t.Fatalf("error %v, want %q", err, want)
	}
}

func TestBadPolicies(t *testing.T) {
	for _, tc := range []struct {
		name  string
		files map[string]string
		want  string // the error text, or its first lines
	}{
		{"parse error", map[string]string{"policy.rego": "package swarm\n\nadmit if {\n\tx := \n}\n"},
			"policy.rego:5: rego_parse_error: unexpected } token\n\t}\n\t^"},
		{"v0 syntax", map[string]string{"policy.rego": "package swarm\n\nadmit { true }\n"},
			"policy.rego:3: rego_parse_error: `if` keyword is required before rule body"},
		{"type error", map[string]string{"policy.rego": "package swarm\n\nadmit if {\n\tcount(1) > 0\n}\n"},
			"policy.rego:4: rego_type_error: count: invalid argument(s)"},
		{"unknown function", map[string]string{"policy.rego": "package swarm\n\nadmit if foo.bar(1)\n"},
			"policy.rego:3: rego_type_error: undefined function foo.bar"},
		{"other package", map[string]string{"policy.rego": "package authz\n\nadmit := true\n"},
			"policy.rego:1: package authz: a capsule's Rego is package swarm (or a subpackage of it)"},
		{"only a subpackage", map[string]string{"lib.rego": "package swarm.lib\n\nx := 1\n"},
			"invalid policy: no .rego file (other than tests) is package swarm"},
		{"no entrypoint", map[string]string{"policy.rego": "package swarm\n\nallow := true\n"},
			"invalid policy: package swarm defines none of the entrypoints admit, bid, verify, route"},
		{"only tests", map[string]string{"policy_test.rego": "package swarm\n\ntest_x if true\n"},
			"invalid policy: no .rego file (other than tests) is package swarm"},
		{"empty folder", map[string]string{},
			"invalid policy: no .rego file (other than tests) is package swarm"},
		{"entrypoint function", map[string]string{"policy.rego": "package swarm\n\nadmit(x) := x\n"},
			"policy.rego:3: admit is a function: an entrypoint must be a rule"},
		{"entrypoint package", map[string]string{"a.rego": "package swarm\n\nverify := true\n", "b.rego": "package swarm.admit\n\nx := 1\n"},
			"b.rego:1: package swarm.admit: swarm.admit is an entrypoint and must be a rule, not a package"},
		{"data file", map[string]string{"policy.rego": "package swarm\n\nadmit := true\n", "data.json": "{}"},
			"data.json: a capsule carries no data documents: put constants in Rego"},
		{"file name", map[string]string{"my policy.rego": "package swarm\n\nadmit := true\n"},
			`"my policy.rego": policy file names are letters, digits, '.', '_' and '-', ending in .rego`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Build(context.Background(), policyDir(t, tc.files))
			if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
				t.Fatalf("error %v\nwant %s", err, tc.want)
			}
			if !errors.Is(err, ErrInvalidPolicy) {
				t.Errorf("error %v does not match ErrInvalidPolicy", err)
			}
		})
	}
}

func TestBuildMissingFolder(t *testing.T) {
	_, err := Build(context.Background(), filepath.Join(t.TempDir(), "nope"))
	if !errors.Is(err, ErrInvalidPolicy) || !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("error %v, want ErrInvalidPolicy and os.ErrNotExist", err)
	}
}

func TestPrintIsErased(t *testing.T) {
	c := build(t, policyDir(t, map[string]string{"p.rego": "package swarm\n\nadmit if {\n\tprint(\"hi\", input)\n}\n"}))
	if len(c.Manifest.HostBuiltins) != 0 {
		t.Errorf("host_builtins %v: print should be erased", c.Manifest.HostBuiltins)
	}
}

type memStore map[string][]byte

func (s memStore) Put(_ context.Context, data []byte) (string, error) {
	ref := envelope.HashRef(data)
	s[ref] = bytes.Clone(data)
	return ref, nil
}

type liarStore struct{}

func (liarStore) Put(context.Context, []byte) (string, error) {
	return envelope.HashRef(nil), nil
}

func TestStore(t *testing.T) {
	c := build(t, "testdata/ok")
	s := memStore{}
	ref, err := c.Store(context.Background(), s)
	if err != nil || ref != c.Ref() || !bytes.Equal(s[ref], c.Bytes()) {
		t.Fatalf("Store: %s, %v", ref, err)
	}
	if _, err := c.Store(context.Background(), liarStore{}); err == nil {
		t.Error("Store accepted a store that files the capsule under another ref")
	}
}

// A file in the Rego of OPA before 1.0 is refused with how to bring it
// over; a file that is not Rego in either version gets no such hint.
func TestRegoV0GetsAHint(t *testing.T) {
	hint := "policy.rego parses as Rego v0 (the syntax before OPA 1.0); capsules are Rego v1: 'opa fmt --rego-v1 policy.rego' rewrites it"
	v0 := "package swarm\n\ndefault admit = false\n\nadmit { input.envelope.verb == \"NEED\" }\n\ndeny[msg] { msg := \"no\" }\n"
	_, err := Build(context.Background(), policyDir(t, map[string]string{"policy.rego": v0}))
	if err == nil || !strings.Contains(err.Error(), hint) {
		t.Errorf("a Rego v0 policy: %v\nwant the hint %q", err, hint)
	}
	_, err = Build(context.Background(), policyDir(t, map[string]string{"policy.rego": "package swarm\n\nadmit if {\n\tx := \n}\n"}))
	if err == nil || strings.Contains(err.Error(), "Rego v0") {
		t.Errorf("a policy that is not Rego at all: %v, want a parse error without the v0 hint", err)
	}
}

// A test file is not part of the capsule: one that does not parse holds
// back `policy test`, which names it, and not the build, whose capsule is
// the one built without it.
func TestBrokenTestFileDoesNotHoldBackTheBuild(t *testing.T) {
	src := "package swarm\n\nadmit := true\n"
	plain := build(t, policyDir(t, map[string]string{"p.rego": src}))
	dir := policyDir(t, map[string]string{"p.rego": src, "p_test.rego": "package swarm\n\ntest_x if {\n"})
	if c := build(t, dir); c.Ref() != plain.Ref() {
		t.Fatalf("with a broken test file: %s, without: %s", c.Ref(), plain.Ref())
	}
	if _, _, err := Test(context.Background(), dir, nil); err == nil || !strings.Contains(err.Error(), "p_test.rego") {
		t.Fatalf("policy test of a broken test file: %v, want it named", err)
	}
}

// .rego files in a subfolder are not sources: the build says so, naming
// the subfolder, rather than leave them out (opa build would take them in).
func TestSubfolderOfSourcesIsRefused(t *testing.T) {
	dir := policyDir(t, map[string]string{"p.rego": "package swarm\n\nimport data.swarm.lib\n\nadmit := lib.ok\n"})
	if err := os.Mkdir(filepath.Join(dir, "lib"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "lib", "lib.rego"), []byte("package swarm.lib\n\nok := true\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Build(context.Background(), dir)
	if err == nil || !strings.Contains(err.Error(), "lib/") || !strings.Contains(err.Error(), "subfolder") {
		t.Fatalf("a subfolder of sources: %v, want it named", err)
	}
	// A subfolder without .rego files (testdata, say) is no one's business.
	if err := os.Remove(filepath.Join(dir, "lib", "lib.rego")); err != nil {
		t.Fatal(err)
	}
	if _, err := Build(context.Background(), dir); err != nil && strings.Contains(err.Error(), "subfolder") {
		t.Fatalf("an empty subfolder: %v", err)
	}
}
