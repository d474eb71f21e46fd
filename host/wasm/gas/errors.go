package gas

import (
	"errors"
	"fmt"
)

// UnsupportedFeatureError reports a WebAssembly feature that the instrumenter
// refuses to rewrite (SIMD, threads, exception handling, tail calls, memory64,
// multi-memory, GC, extended-const, ...). Offset is the byte offset in the
// module where the feature was first seen.
type UnsupportedFeatureError struct {
	Feature string
	Offset  int
}

func (e *UnsupportedFeatureError) Error() string {
	return fmt.Sprintf("unsupported wasm feature %q at offset %d", e.Feature, e.Offset)
}

// DecodeError reports malformed input: Section names the section (or
// "header"), Offset is the byte offset in the module, Detail says what was
// wrong.
type DecodeError struct {
	Section string
	Offset  int
	Detail  string
}

func (e *DecodeError) Error() string {
	return fmt.Sprintf("malformed module: %s section at offset %d: %s", e.Section, e.Offset, e.Detail)
}

// ErrAlreadyInstrumented is returned (wrapped) by Instrument for a module that
// already imports from [ImportModule] or exports [GasGlobalExport]:
// instrumenting it again would meter it twice.
var ErrAlreadyInstrumented = errors.New("gas: module is already instrumented")

// ErrBadCostTable is returned (wrapped) by Instrument for a cost table that
// has no version or a weight too large to sum safely.
var ErrBadCostTable = errors.New("gas: invalid cost table")
