// Package policy evaluates policy capsules (PROTOCOL.md section 7): Rego
// compiled to WebAssembly by OPA (host/policy/compile), run through the OPA
// wasm ABI on swarmhost's own wazero runtime, gas-metered by the same
// instrumenter as agents.
//
// # Contract
//
//   - [Policy.Eval] takes an entrypoint ("admit", "bid", "verify", "route"),
//     the input's JSON and a gas budget, and returns {result, gas_used,
//     digest}: result is the rule's value, or null where the rule is
//     undefined; sets come out as arrays in sorted order (the JSON OPA's own
//     evaluator gives), so results compare equal to OPA's; the digest is
//     "sha256:" of JCS {capsule, entrypoint, input_hash, result, gas_used},
//     input_hash being "sha256:" of the input's JCS.
//   - The same capsule on the same input gives the same result, gas and
//     digest on every machine and on both wazero engines; a budget of exactly
//     the gas used succeeds, one less fails out of gas (a *wasm.Fault).
//   - Builtins OPA does not compile into the wasm are served by the host
//     with OPA's own topdown implementations, with the clock pinned to 0 and
//     a zero random source: the compiler refuses every builtin that would
//     read them, so they are never consulted.
//   - A Policy is safe for concurrent use.
package policy
