// Package gas rewrites a WebAssembly module before it is compiled so that
// running it is deterministically gas metered and depth limited: the same
// call with the same budget uses the same gas, and runs out of gas (or of
// depth) at the same instruction, on every machine, on wazero's compiler and
// interpreter alike, and under extism/go-sdk, which lets a host provide
// imported functions but not read a module's globals.
//
// [Instrument] does the rewrite; [Inspect] decodes a module without changing
// it, for `swarmhost plugin inspect`. The decoder and encoder are this
// package's own: every opcode's immediates are decoded, the 0xFC and 0xFD
// prefixes included, so that nothing is rewritten blind.
//
// # What is charged, and when
//
// The remaining gas lives in an i64 global the instrumenter adds. Charges
// follow the metering algorithm of paritytech's wasm-instrument: each
// function body is cut into metered blocks at control-flow boundaries (the
// start of the body, of every loop body and if/else arm, after every br,
// br_if, br_table and return, and after the end of a block that something
// inside branched out of), and the sum of the weights of a metered block's
// instructions is charged at its start, before any of them runs. So a
// trapping instruction is always charged before it traps, and a loop is
// charged again on every iteration. A charge is inline and unsigned:
//
//	if gas < cost { exhausted() }   // the host aborts the call
//	gas -= cost
//
// One refinement keeps the figures exact while saving a charge per
// iteration of loops whose back edges are all unconditional (as in Go's
// code): such a loop's header block is charged by each block that enters it
// (the block before the loop and every block ending in a br to it) instead
// of by itself; each of those enters the loop exactly once.
//
// The weights are a [CostTable] ([V1] by default, about one unit per simple
// integer instruction; see costs.go). Declared locals are charged with the
// function's first block (they are zeroed on entry). Instructions whose work
// depends on an operand are also charged for it just before they run, by a
// helper function the instrumenter adds: memory.grow per 64 KiB page
// requested (whether or not the grow succeeds), memory.copy, memory.fill and
// memory.init per started 8-byte word, table.copy, table.fill, table.init
// and table.grow per element. Host functions charge for their own work by
// lowering the host's counter (below).
//
// The version of the cost table, [CostTable.Version] ("gas-v1" for V1), is
// part of every compiled-module cache key and every recorded gas figure: a
// changed weight needs a new version, and a test pins V1's weights.
//
// # How gas enters and leaves
//
// The instrumented module imports four functions from [ImportModule]
// ("swarm_gas"), which the host must provide:
//
//	get       () -> i64   the remaining gas
//	set       (i64) -> () the remaining gas
//	exhausted () -> ()    a charge did not fit: abort the call, never return
//	too_deep  () -> ()    the depth limit was hit: abort the call, never return
//
// Every exported function is replaced, in the export section only, by a
// wrapper with the same signature that reads the budget with get, runs the
// original at depth 0, and hands the remaining gas back with set. Internal
// calls and table entries keep pointing at the originals. Around every call
// to an imported function the module does set before and get after, so a
// host function sees the exact remaining gas and may charge by lowering it.
// An imported function used as a value (a table entry, ref.func, a global's
// initialiser) is replaced by a thunk that does the same, so a call_indirect
// reaching a host function hands the gas over too. A start function is
// wrapped like an export: the host gives it a budget through get during
// instantiation. A re-exported imported function stays as it is (no wasm
// runs when the host calls it).
//
// The remaining-gas global is also exported as [GasGlobalExport]
// ("swarm_gas_left"). The functions keep it in a local and write it through
// at every charge, so it is exact at every instruction: after a trap a
// wazero host reads how much the call used. (After exhausted it holds what
// was left before the charge that did not fit.)
//
// # Call depth
//
// An i32 global counts nested calls. Every defined function that contains a
// call or call_indirect checks it on entry (calling too_deep at the limit),
// increments it, and restores it on every exit; functions without calls
// cannot recurse and add at most one frame, so they are not counted. The
// export wrapper saves the count, sets it to 0 and restores it, so a call
// the host makes while a host function runs (a re-entrant call, which
// wazero runs on a fresh stack) starts from 0 too, and a call that trapped
// leaves no stale count behind.
//
// [DefaultMaxCallDepth] is 1000, chosen by measuring wazero v1.12 (see
// TestEngineStackLimits): the interpreter allows 2000 frames per call stack
// (its callStackCeiling), whatever their size; the compiler grows its stack
// up to 400 MB, which a plain recursion with a few locals does not exhaust
// within the 131072 frames the test tries. An instrumented call stack holds
// at most MaxCallDepth counted frames plus the export wrapper, one uncounted
// leaf (a function without calls, a thunk or a charge helper) and a host
// function, so 1000 trips before either engine's limit with half the
// interpreter's frames to spare for frames the instrumenter does not see
// (another module's functions imported as wasm, such as Extism's kernel).
// TestRunaway checks that an unbounded recursion ends in too_deep, not in
// wazero's stack overflow, on both engines.
//
// # Index spaces and sections
//
// The four imports are appended to the import section, so every defined
// function's index shifts by four; every function index is remapped (calls,
// ref.func, exports, start, element segments in both forms, globals'
// initialisers). Two globals are appended (no existing global index moves),
// function types are appended only when no identical one exists, and the
// added functions (two charge helpers, thunks, wrappers) follow the original
// ones. The "name" custom section is dropped (its indices are stale); every
// other section the rewrite does not change (custom sections, memories,
// tables, data count) is copied byte for byte, in its place. The data
// section too, except that where nothing could tell (every segment active
// in the module's own memory at a constant offset, none overlapping, no
// data count section) segments closer than 1 KiB are merged, zeros written
// between them: Go's linker emits tens of thousands of small segments, and
// an engine evaluates and copies each one on every instantiation.
// Instantiation is not metered, so gas is the same. The output is a
// function of the input bytes and the options alone.
//
// # Supported features
//
// MVP, mutable globals, sign extension, saturating float-to-int, bulk
// memory (including data.drop and the table operations), multi-value (block
// types as type indices, several results) and reference types (ref.null,
// ref.is_null, ref.func, typed select, table.get/set/size/grow/fill, several
// tables, externref). Anything else is refused with an
// [*UnsupportedFeatureError] naming the feature: "simd", "relaxed-simd",
// "threads" (atomics, shared memory), "exception-handling", "tail-call",
// "memory64", "multi-memory", "gc", "function-references",
// "extended-const", "wide-arithmetic", "custom-page-sizes". Malformed input
// is a [*DecodeError] naming the section and offset; a module that already
// imports from swarm_gas is refused with [ErrAlreadyInstrumented]. No input
// makes Instrument or Inspect panic (FuzzInstrument).
//
// # Caveats
//
//   - A function the host reaches through an exported table (table.get from
//     Go, then a call) runs without a wrapper: the host must hand the gas
//     over itself through the exported global, or not export tables.
//   - Custom sections other than "name" are kept as they are, so debug
//     information that points into code (DWARF) no longer matches it.
//   - A function may declare at most 50000 locals (as in browsers): engines
//     allocate per declared local, and wazero would allocate 4 GB for a
//     body of a few bytes declaring 2^32.
//   - wazero v1.12 is not safe on arbitrary bytes: it allocates for a
//     vector length before checking the bytes are there, so the 15-byte
//     module "\x00asm\x01\x00\x00\x00\x02\x05\xff\xff\xff\xff\x0f" (an
//     import section declaring 2^32-1 imports) kills the process with a
//     fatal out-of-memory error. Run Instrument (or Inspect), whose decoder
//     checks every count against the bytes left, before handing a module to
//     wazero.
//
// # Cost
//
// Instrumenting the 3.3 MB Go wasip1 module of the tests takes about 50 ms
// and grows it by about 45%. Measured on wazero's compiler (BenchmarkOverhead,
// 2 shared cores, fastest of 30 runs each), metering costs about 12%
// (geometric mean over ten CPU-bound workloads): 0-10% on hand-written loops
// and recursion, 10-35% on Go code, whose short blocks and frequent calls
// make it the worst case. The interpreter pays more (about 75%), as every
// added instruction costs it as much as an original one. Two choices made
// most of the difference and rest on measurements: charges keep the
// counter in a local (the global, which lives in memory, made every loop
// iteration wait on a store and a load), and each charge branches to its own
// cold exit at the end of the function (wazero's compiler fuses a compare
// into its branch only when the branch target has a single predecessor, and
// an if block around the exhausted call bloats hot code).
package gas
