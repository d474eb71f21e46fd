//go:build !linux

package wasm

import "context"

// withLinearMemory leaves wazero's default linear memory (a Go slice) where
// reserving address space is not implemented.
func withLinearMemory(ctx context.Context) context.Context { return ctx }
