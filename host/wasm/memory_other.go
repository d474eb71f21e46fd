//go:build !linux

package wasm

import "context"

// withLinearMemory leaves wazero's default linear memory (a Go slice) where
// reserving address space is not implemented.
func withLinearMemory(ctx context.Context) context.Context { return ctx }

// imageMemory would let recycling find the pages a call wrote; here it
// cannot, and recycling compares the whole memory.
type imageMemory struct{}

func withImageMemory(ctx context.Context, _ *imageMemory) context.Context { return ctx }

func (imageMemory) track(int) {}

func (imageMemory) restoreWritten([]byte) bool { return false }
