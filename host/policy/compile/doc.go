// Package compile builds policy capsules: Rego compiled to WebAssembly
// in-process with OPA's compile package, packed with a manifest into one
// canonical file (PROTOCOL.md section 7, DESIGN.md "Policy capsules").
//
// # Contract
//
//   - [Build] compiles a policy folder: its *.rego files (a subfolder
//     holding .rego files is refused), *_test.rego left unread, parsed as
//     Rego v1 (a file that parses only as
//     Rego v0, OPA's syntax before 1.0, is refused with how to rewrite it:
//     `opa fmt --rego-v1`). Every file is package swarm
//     or a subpackage; at least one is package swarm and defines at least
//     one of the entrypoint rules admit, bid, verify, route. Those present
//     become the wasm entrypoints swarm/admit, swarm/bid, swarm/verify,
//     swarm/route, numbered in that order. A folder may not hold data.json
//     or data.yaml: a capsule carries no data documents.
//   - Only deterministic builtins compile: the capabilities are OPA's for
//     this version minus [Forbidden] (clock, randomness, network, runtime,
//     host time zone, trace). A call to one fails the build with a
//     [*BuiltinError], "policy.rego:7: time.now_ns is not allowed: it reads
//     the clock". Every problem with a policy (parse error, type error,
//     forbidden builtin, wrong package, no entrypoint) is reported with its
//     file:line where it has one, in a [*PolicyError], and matches
//     [ErrInvalidPolicy]. print calls are erased (a capsule is compiled
//     without print statements).
//   - Building the same folder with the same swarmhost gives the same bytes:
//     OPA's wasm output is byte-identical across builds, and the tests pin a
//     golden ref.
//   - The manifest's entrypoints and host_builtins are what the module
//     itself reports through its "entrypoints" and "builtins" exports: Build
//     instantiates it once (wazero interpreter, WebAssembly 1.0 features
//     only), which also proves it loads. host_builtins are the builtins OPA
//     did not compile into the module and that it calls out for through
//     env.opa_builtin0..4: an evaluator must implement each of them (and
//     reads their ids from the "builtins" export).
//   - [Parse] accepts exactly the bytes Build produces for some policy: the
//     canonical encoding of a manifest whose fields are all present and
//     valid, whose wasm hashes to wasm_hash and whose host builtins are
//     allowed. Anything else is an error matching [ErrBadCapsule]; Parse
//     never panics (FuzzParseCapsule).
//   - [Capsule.Store] puts the capsule into a CAS (host/cas.Store).
//   - [Test] runs the folder's Rego unit tests (test_ rules) with OPA's
//     tester under the same capabilities and writes an `opa test`-style
//     report.
//
// # Capsule format
//
// A capsule is one file, the RFC 8785 (JCS) JSON object
//
//	{"abi":1,
//	 "capabilities":"sha256:...",
//	 "entrypoints":{"swarm/admit":0,"swarm/bid":1,"swarm/route":3,"swarm/verify":2},
//	 "host_builtins":["sprintf"],
//	 "kind":"canswarm-capsule",
//	 "opa_version":"1.22.3",
//	 "source":{"policy.rego":"sha256:..."},
//	 "v":1,
//	 "wasm":"AGFzbQEAAAAB...",
//	 "wasm_abi":{"minor":3,"version":1},
//	 "wasm_hash":"sha256:..."}
//
// (without the whitespace): wasm is the module in standard padded base64,
// wasm_hash its ref, source the refs of the .rego files compiled in,
// capabilities the ref of the JCS capabilities ([CapabilitiesRef]), abi the
// input and result convention of PROTOCOL.md section 7. The capsule's ref
// ([Capsule.Ref]), envelope.HashRef of the bytes, is the policy_capsule_hash.
//
// # The compiled module
//
// What an evaluator of the OPA wasm ABI (host/wasm) meets, for OPA 1.22.3,
// checked by TestModuleShape:
//
//   - WebAssembly 1.0 (MVP) only; wasm ABI 1.3.
//   - Imports, all from "env": memory (minimum: the pages its data segments
//     need, 2 for the classify capsule; no maximum, so the host picks one),
//     opa_abort (i32) and opa_builtin0..4 (i32 id, i32 ctx, then 0 to 4 i32
//     argument addresses; i32 result). No opa_println: print calls are
//     erased at compile time. A wazero host module cannot export a memory,
//     so "env" must be a (glue) wasm module, as introspect does here.
//   - Exports: memory, opa_eval (the one-call evaluation of ABI 1.2+), eval,
//     builtins, entrypoints, opa_malloc, opa_free, opa_json_parse,
//     opa_json_dump, opa_value_parse, opa_value_dump, opa_heap_ptr_get,
//     opa_heap_ptr_set, opa_eval_ctx_* and the globals opa_wasm_abi_version
//     and opa_wasm_abi_minor_version.
package compile
