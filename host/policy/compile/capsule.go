package compile

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"

	"github.com/canswarm/swarmhost/abi/envelope"
	"github.com/gowebpki/jcs"
)

// Capsule format constants.
const (
	// FormatVersion is the capsule's "v".
	FormatVersion = 1
	// Kind is the capsule's "kind".
	Kind = "canswarm-capsule"
	// ABIVersion is the capsule's "abi": the input and result convention of
	// PROTOCOL.md section 7 (input {entrypoint, envelope, context}; result
	// the rule's value or null).
	ABIVersion = 1
)

// Manifest is everything a capsule says besides its wasm.
type Manifest struct {
	V          int    `json:"v"`           // FormatVersion
	Kind       string `json:"kind"`        // Kind
	ABI        int    `json:"abi"`         // ABIVersion
	OPAVersion string `json:"opa_version"` // the OPA that compiled it, "1.22.3"
	// WasmABI is the OPA wasm ABI the module implements, read from its
	// opa_wasm_abi_version and opa_wasm_abi_minor_version globals.
	WasmABI WasmABI `json:"wasm_abi"`
	// Entrypoints maps "swarm/admit", "swarm/bid", "swarm/verify",
	// "swarm/route" (those the policy defines) to the entrypoint id opa_eval
	// takes, as the module's "entrypoints" export reports them.
	Entrypoints map[string]int `json:"entrypoints"`
	// Capabilities is the ref of the JCS OPA capabilities the policy was
	// compiled with (CapabilitiesRef of the builder).
	Capabilities string `json:"capabilities"`
	// HostBuiltins are the builtins the module calls out for through
	// env.opa_builtin0..4 (the keys of its "builtins" export), sorted. The
	// ids are not recorded: the evaluator reads them from that export.
	HostBuiltins []string `json:"host_builtins"`
	// WasmHash is envelope.HashRef of the wasm module.
	WasmHash string `json:"wasm_hash"`
	// Source maps each .rego file compiled in (tests excluded) to the ref of
	// its bytes.
	Source map[string]string `json:"source"`
}

// WasmABI is an OPA wasm ABI version.
type WasmABI struct {
	Version int `json:"version"`
	Minor   int `json:"minor"`
}

// Capsule is a compiled policy: one canonical file holding the wasm module
// and its Manifest. Its identity is Ref, the ref of Bytes.
type Capsule struct {
	// Manifest is a copy, for reading: changing it changes neither Bytes
	// nor Ref.
	Manifest Manifest
	wasm     []byte
	bytes    []byte
	ref      string
}

// Bytes returns the capsule file: the JCS object of the Manifest's fields
// plus "wasm", the standard base64 (padded) of the module. The slice is
// shared: do not modify it.
func (c *Capsule) Bytes() []byte { return c.bytes }

// Ref returns envelope.HashRef(Bytes()): the policy_capsule_hash of
// PROTOCOL.md section 7 and the capsule's key in the CAS.
func (c *Capsule) Ref() string { return c.ref }

// Wasm returns the OPA wasm module. The slice is shared: do not modify it.
func (c *Capsule) Wasm() []byte { return c.wasm }

// Putter is the part of a CAS (host/cas.Store) that Store needs.
type Putter interface {
	Put(ctx context.Context, data []byte) (string, error)
}

// Store puts the capsule into a content-addressed store and returns its
// ref, checking that the store filed it under Ref().
func (c *Capsule) Store(ctx context.Context, store Putter) (string, error) {
	ref, err := store.Put(ctx, c.bytes)
	if err != nil {
		return "", fmt.Errorf("store capsule %s: %w", c.ref, err)
	}
	if ref != c.ref {
		return "", fmt.Errorf("store capsule %s: the store filed it under %s", c.ref, ref)
	}
	return ref, nil
}

// wireForm is the capsule file's object. encoding/json and then JCS put its
// keys in order; the field order here is JCS's, for the reader.
type wireForm struct {
	ABI          int               `json:"abi"`
	Capabilities string            `json:"capabilities"`
	Entrypoints  map[string]int    `json:"entrypoints"`
	HostBuiltins []string          `json:"host_builtins"`
	Kind         string            `json:"kind"`
	OPAVersion   string            `json:"opa_version"`
	Source       map[string]string `json:"source"`
	V            int               `json:"v"`
	Wasm         []byte            `json:"wasm"` // standard base64 with padding
	WasmABI      WasmABI           `json:"wasm_abi"`
	WasmHash     string            `json:"wasm_hash"`
}

// encode returns the canonical bytes of a manifest and module.
func encode(m *Manifest, wasm []byte) ([]byte, error) {
	hb := m.HostBuiltins
	if hb == nil {
		hb = []string{} // [] rather than null
	}
	text, err := json.Marshal(wireForm{
		ABI: m.ABI, Capabilities: m.Capabilities, Entrypoints: m.Entrypoints,
		HostBuiltins: hb, Kind: m.Kind, OPAVersion: m.OPAVersion, Source: m.Source,
		V: m.V, Wasm: wasm, WasmABI: m.WasmABI, WasmHash: m.WasmHash,
	})
	if err != nil {
		return nil, fmt.Errorf("encode capsule: %w", err)
	}
	canon, err := jcs.Transform(text)
	if err != nil {
		return nil, fmt.Errorf("canonicalize capsule: %w", err)
	}
	return canon, nil
}

// newCapsule encodes a validated manifest and module.
func newCapsule(m Manifest, wasm []byte) (*Capsule, error) {
	b, err := encode(&m, wasm)
	if err != nil {
		return nil, err
	}
	return &Capsule{Manifest: m, wasm: wasm, bytes: b, ref: envelope.HashRef(b)}, nil
}

// canonicalEqual reports whether b is exactly the encoding of m and wasm.
func canonicalEqual(b []byte, m *Manifest, wasm []byte) (bool, error) {
	canon, err := encode(m, wasm)
	if err != nil {
		return false, err
	}
	return bytes.Equal(canon, b), nil
}
