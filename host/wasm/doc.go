// Package wasm runs agent plugins: WebAssembly modules that speak the
// swarm_v1 ABI (ABI.md, docs/ABI.md), on wazero, deterministically and
// gas-metered.
//
// # Contract
//
//   - [Runtime.Load] validates a module (features, imports, required
//     exports), rewrites it with the gas instrumenter (host/wasm/gas),
//     compiles it once (with wazero's on-disk compilation cache when a cache
//     folder is configured: the key is the instrumented bytes, so it changes
//     with the module and with the cost-table version), and asks the agent to
//     describe itself. The same folder keeps the instrumented module and
//     whether it qualifies for images (instcache.go), keyed by the module,
//     the instrumentation options and the running executable (its Go build
//     ID, else its bytes), so a node's restart or a replay does not
//     instrument its agents again; an entry that does not read back whole
//     is ignored and rewritten. A module that fails any step is refused
//     with an error naming the step and the reason.
//   - Every [Module.Handle] call runs on an instance taken from a small
//     pool of instances in the state _initialize leaves and nothing else:
//     either they ran it, or (when gas.CheckImage allows) they were put in
//     that state from an image taken once per module (image.go). The output
//     and the gas of a call are therefore a function of the module, the
//     input, what the host functions answer, and the budget — never of
//     earlier calls — which is what replay needs. After its call an
//     instance from an image is set back to the image's state (memory,
//     globals, WASI state) and pooled again, when the call returned
//     normally and did not grow the memory (image.go, recycle): on Linux
//     6.7+ only the pages the kernel reports written are copied back
//     (dirty_linux.go), elsewhere the memory is compared with the image.
//     Any other instance is closed, and its memory's mapping is cleared
//     and reused by a later instance (memory_linux.go).
//   - Nothing outside reaches a plugin: WASI clocks start at a fixed time
//     and advance only when the plugin sleeps, random bytes are a fixed
//     stream, there are no arguments, environment, files or network;
//     stdout and stderr go to the host's log, bounded.
//   - Limits: memory pages, gas per call (the instrumented module's counter,
//     plus the host functions' charges), call depth, output size, host calls
//     per call. Breaking one, or trapping, or handing back a pointer out of
//     bounds or an output that is not an AgentOutput, ends the call with a
//     [*Fault] of a [FaultKind]; the host and every other plugin go on.
//   - Host functions charge gas (HostCosts, versioned): a base cost plus a
//     cost per byte moved, before they act.
package wasm
