package wasm

import (
	"context"
	"syscall"

	"github.com/tetratelabs/wazero/experimental"
)

// withLinearMemory backs the linear memories of modules instantiated with
// ctx by reserved address space (see mmapMemory).
func withLinearMemory(ctx context.Context) context.Context {
	return experimental.WithMemoryAllocator(ctx, experimental.MemoryAllocatorFunc(newMmapMemory))
}

// mmapMemory is a linear memory in an anonymous private mapping of its
// maximum size, reserved (MAP_NORESERVE) rather than committed: the kernel
// gives a page only when it is first touched, zeroed. Growing is then
// taking a longer slice of the same mapping: nothing is copied or cleared,
// where wazero's default (a Go slice) reallocates and copies the whole
// memory on every grow, and a Go module grows its heap many times per call.
// The mapping is outside the Go heap: no garbage, no GC scans, and it is
// returned to the kernel when the module closes (Free). Every read of guest
// memory by the host copies it out, so nothing refers to it after.
type mmapMemory struct {
	buf []byte // the whole mapping
}

func newMmapMemory(_, max uint64) experimental.LinearMemory {
	if max == 0 || max > 1<<32 {
		return &sliceMemory{}
	}
	buf, err := syscall.Mmap(-1, 0, int(max), syscall.PROT_READ|syscall.PROT_WRITE,
		syscall.MAP_PRIVATE|syscall.MAP_ANONYMOUS|syscall.MAP_NORESERVE)
	if err != nil {
		// No address space to reserve: a Go slice, as wazero would use.
		return &sliceMemory{}
	}
	return &mmapMemory{buf: buf}
}

func (m *mmapMemory) Reallocate(size uint64) []byte {
	if size > uint64(len(m.buf)) {
		return nil
	}
	return m.buf[:size:size]
}

func (m *mmapMemory) Free() {
	if m.buf != nil {
		syscall.Munmap(m.buf)
		m.buf = nil
	}
}
