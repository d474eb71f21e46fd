package wasm

import (
	"bytes"
	"testing"
	"unsafe"
)

// A freed memory's mapping is handed to the next memory of its size, and
// reads as zeros there, whether Free cleared it in place or handed its
// pages back to the kernel.
func TestMappingReusedZeroed(t *testing.T) {
	for _, tc := range []struct {
		name  string
		limit int
	}{{"cleared in place", 16 << 20}, {"handed back to the kernel", 64 << 10}} {
		t.Run(tc.name, func(t *testing.T) {
			defer func(old int) { clearLimit = old }(clearLimit)
			clearLimit = tc.limit
			const size = 1<<20 + 3*65536 // a size no other test uses
			first := newMmapMemory(0, size).(*mmapMemory)
			b := first.Reallocate(4 * 65536)
			for i := range b {
				b[i] = 0xff
			}
			b = first.Reallocate(8 * 65536) // grown: its new pages are written too
			for i := range b {
				b[i] = 0xee
			}
			addr := unsafe.Pointer(&b[0])
			before := pool.reused
			first.Free()
			second := newMmapMemory(0, size).(*mmapMemory)
			defer second.Free()
			all := second.Reallocate(size)
			if pool.reused != before+1 || unsafe.Pointer(&all[0]) != addr {
				t.Fatal("the freed mapping was not reused")
			}
			if i := bytes.IndexFunc(all, func(r rune) bool { return r != 0 }); i >= 0 {
				t.Fatalf("byte %d of a reused mapping is not zero", i)
			}
		})
	}
}

// The pool keeps at most maxPooledPerSize mappings of a size; the rest are
// unmapped.
func TestMappingPoolIsBounded(t *testing.T) {
	const size = 1<<20 + 5*65536
	var mems []*mmapMemory
	for i := 0; i < maxPooledPerSize+3; i++ {
		m := newMmapMemory(0, size).(*mmapMemory)
		m.Reallocate(65536)[0] = 1
		mems = append(mems, m)
	}
	for _, m := range mems {
		m.Free()
	}
	pool.mu.Lock()
	n := len(pool.free[size])
	pool.mu.Unlock()
	if n != maxPooledPerSize {
		t.Fatalf("pooled %d mappings of one size, want %d", n, maxPooledPerSize)
	}
}
