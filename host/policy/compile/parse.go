package compile

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/canswarm/swarmhost/abi/envelope"
	"github.com/canswarm/swarmhost/host/cas"
)

// Bounds a capsule's manifest must keep.
const (
	maxCapsuleBytes = cas.MaxBlobBytes
	maxHostBuiltins = 256
	maxVersionLen   = 64
)

var (
	// sourceName is a capsule source file name: no folders, no spaces,
	// nothing JSON or a shell would need to escape.
	sourceName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,250}\.rego$`)
	opaVersion = regexp.MustCompile(`^[0-9A-Za-z.+-]+$`)
	wasmHeader = []byte{0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00}
)

// fieldNames are the capsule object's keys, all required.
var fieldNames = []string{
	"abi", "capabilities", "entrypoints", "host_builtins", "kind", "opa_version",
	"source", "v", "wasm", "wasm_abi", "wasm_hash",
}

// Parse reads a capsule file, strictly: the bytes must be exactly the
// canonical (JCS) encoding of a valid manifest and module, so that one
// capsule has one byte string and one ref. Every failure is an error
// matching ErrBadCapsule; Parse never panics.
func Parse(b []byte) (*Capsule, error) {
	m, wasm, err := parse(b)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadCapsule, err)
	}
	b = bytes.Clone(b)
	return &Capsule{Manifest: *m, wasm: wasm, bytes: b, ref: envelope.HashRef(b)}, nil
}

func parse(b []byte) (*Manifest, []byte, error) {
	if len(b) > maxCapsuleBytes {
		return nil, nil, fmt.Errorf("%d bytes, limit %d", len(b), maxCapsuleBytes)
	}
	// What an author brings from elsewhere: OPA's own build outputs.
	switch {
	case bytes.HasPrefix(b, []byte("\x00asm")):
		return nil, nil, errors.New("a bare WebAssembly module (opa build -t wasm's policy.wasm?): a capsule is what " +
			"`swarmhost policy build DIR` makes of the Rego sources (a manifest naming the module's entrypoints " +
			"and the builtins it calls, and the module)")
	case bytes.HasPrefix(b, []byte{0x1f, 0x8b}):
		return nil, nil, errors.New("gzip data (an OPA bundle?): a capsule is what `swarmhost policy build DIR` " +
			"makes of the Rego sources; build it from the bundle's .rego files")
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(b, &fields); err != nil {
		return nil, nil, fmt.Errorf("not a JSON object: %w", err)
	}
	// Kind and version first: for bytes that are no capsule at all, or a
	// capsule of another version, that is the message that helps.
	var kind string
	if err := field(fields, "kind", &kind); err != nil {
		return nil, nil, err
	}
	if kind != Kind {
		return nil, nil, fmt.Errorf("kind %.100q, want %q", kind, Kind)
	}
	var v int
	if err := field(fields, "v", &v); err != nil {
		return nil, nil, err
	}
	if v != FormatVersion {
		return nil, nil, fmt.Errorf("capsule format version %d, this host reads %d", v, FormatVersion)
	}
	for _, k := range fieldNames {
		if _, ok := fields[k]; !ok {
			return nil, nil, fmt.Errorf("missing field %q", k)
		}
	}
	if len(fields) != len(fieldNames) {
		for k := range fields {
			if !slices.Contains(fieldNames, k) {
				return nil, nil, fmt.Errorf("unknown field %.100q", k)
			}
		}
	}

	m := &Manifest{V: v, Kind: kind}
	var wasm []byte
	for _, f := range []struct {
		name string
		dst  any
	}{
		{"abi", &m.ABI},
		{"opa_version", &m.OPAVersion},
		{"wasm_abi", &m.WasmABI},
		{"entrypoints", &m.Entrypoints},
		{"capabilities", &m.Capabilities},
		{"host_builtins", &m.HostBuiltins},
		{"wasm_hash", &m.WasmHash},
		{"source", &m.Source},
		{"wasm", &wasm},
	} {
		if err := field(fields, f.name, f.dst); err != nil {
			return nil, nil, err
		}
	}
	if err := validate(m, wasm); err != nil {
		return nil, nil, err
	}
	ok, err := canonicalEqual(b, m, wasm)
	if err != nil {
		return nil, nil, err
	}
	if !ok {
		return nil, nil, fmt.Errorf("not in canonical form (JCS, standard padded base64): the same capsule would have another ref")
	}
	return m, wasm, nil
}

// field decodes fields[name] into dst, refusing null and unknown keys of
// nested objects.
func field(fields map[string]json.RawMessage, name string, dst any) error {
	raw, ok := fields[name]
	if !ok {
		return fmt.Errorf("missing field %q", name)
	}
	if bytes.Equal(raw, []byte("null")) {
		return fmt.Errorf("field %q is null", name)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return fmt.Errorf("field %q: %w", name, err)
	}
	return nil
}

// validate checks a decoded manifest and its module.
func validate(m *Manifest, wasm []byte) error {
	if m.ABI != ABIVersion {
		return fmt.Errorf("capsule ABI %d, this host implements %d", m.ABI, ABIVersion)
	}
	if len(m.OPAVersion) == 0 || len(m.OPAVersion) > maxVersionLen || !opaVersion.MatchString(m.OPAVersion) {
		return fmt.Errorf("opa_version %.100q is not a version", m.OPAVersion)
	}
	if m.WasmABI.Version != 1 || m.WasmABI.Minor < 0 {
		return fmt.Errorf("wasm_abi %d.%d, want 1.x", m.WasmABI.Version, m.WasmABI.Minor)
	}
	if err := validateEntrypoints(m.Entrypoints); err != nil {
		return err
	}
	if !envelope.IsRef(m.Capabilities) {
		return fmt.Errorf("capabilities %.100q is not a ref", m.Capabilities)
	}
	if err := validateHostBuiltins(m.HostBuiltins); err != nil {
		return err
	}
	if len(m.Source) == 0 || len(m.Source) > maxSourceFiles {
		return fmt.Errorf("source lists %d files, want 1 to %d", len(m.Source), maxSourceFiles)
	}
	for name, ref := range m.Source {
		if !sourceName.MatchString(name) || strings.HasSuffix(name, "_test.rego") {
			return fmt.Errorf("source file name %.100q is not allowed", name)
		}
		if !envelope.IsRef(ref) {
			return fmt.Errorf("source %s: %.100q is not a ref", name, ref)
		}
	}
	if !envelope.IsRef(m.WasmHash) {
		return fmt.Errorf("wasm_hash %.100q is not a ref", m.WasmHash)
	}
	if !bytes.HasPrefix(wasm, wasmHeader) {
		return fmt.Errorf("wasm is not a WebAssembly 1 module (bad header)")
	}
	if got := envelope.HashRef(wasm); got != m.WasmHash {
		return fmt.Errorf("wasm hashes to %s, the manifest says %s: the module is corrupt", got, m.WasmHash)
	}
	return nil
}

func validateEntrypoints(eps map[string]int) error {
	if len(eps) == 0 || len(eps) > len(entrypointNames) {
		return fmt.Errorf("%d entrypoints, want 1 to %d", len(eps), len(entrypointNames))
	}
	seen := make([]bool, len(eps))
	for name, id := range eps {
		n, ok := strings.CutPrefix(name, "swarm/")
		if !ok || !slices.Contains(entrypointNames, n) {
			return fmt.Errorf("unknown entrypoint %.100q", name)
		}
		if id < 0 || id >= len(eps) || seen[id] {
			return fmt.Errorf("entrypoint %s has id %d: ids are 0 to %d, each once", name, id, len(eps)-1)
		}
		seen[id] = true
	}
	return nil
}

func validateHostBuiltins(names []string) error {
	if len(names) > maxHostBuiltins {
		return fmt.Errorf("%d host builtins, limit %d", len(names), maxHostBuiltins)
	}
	if !sort.StringsAreSorted(names) {
		return fmt.Errorf("host_builtins are not sorted")
	}
	for i, n := range names {
		if i > 0 && names[i-1] == n {
			return fmt.Errorf("host builtin %.100q is listed twice", n)
		}
		if !allowed(n) {
			return fmt.Errorf("host builtin %.100q is not allowed", n)
		}
	}
	return nil
}
