package wasm

import (
	"context"
	"sync"
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
// The mapping is outside the Go heap: no garbage, no GC scans. Every read
// of guest memory by the host copies it out, so nothing refers to it after
// Free.
//
// Free zeroes what the instance could have written and keeps the mapping
// for the next instance of the same maximum (see mappingPool): a fresh
// mapping would pay a page fault, in the kernel, for every page the next
// instance touches (a Go agent touches ~700 per call, ~2 ms of system time),
// where clearing pages that stay resident costs a memclr.
type mmapMemory struct {
	buf     []byte      // the whole mapping
	used    uint64      // the longest slice handed out: nothing beyond it was reachable
	tracker *dirtyPages // set while registered for write tracking (dirty_linux.go)
}

// imageMemory is the linear memory of an instance that starts from an
// image, when it is an mmapMemory: recycling it copies back only the pages
// its call wrote, which the kernel tracks (dirtyPages).
type imageMemory struct{ m *mmapMemory }

// withImageMemory is withLinearMemory, and sets dst to the memory made.
func withImageMemory(ctx context.Context, dst *imageMemory) context.Context {
	return experimental.WithMemoryAllocator(ctx, experimental.MemoryAllocatorFunc(func(min, max uint64) experimental.LinearMemory {
		lm := newMmapMemory(min, max)
		if mm, ok := lm.(*mmapMemory); ok {
			dst.m = mm
		}
		return lm
	}))
}

// track write-protects the first n bytes, which hold the image, so that
// the pages a call writes can be found; without the kernel's support it
// does nothing.
func (im imageMemory) track(n int) {
	if im.m == nil || n <= 0 || n > len(im.m.buf) {
		return
	}
	if im.m.tracker == nil {
		d := dirty()
		if d == nil || d.register(im.m.buf) != nil {
			return
		}
		im.m.tracker = d
	}
	if im.m.tracker.protect(im.m.buf[:n]) != nil {
		im.m.untrack()
	}
}

// restoreWritten copies image back over the pages written since track (or
// the last restoreWritten); false when the memory is not tracked or the
// kernel failed (the caller then compares it all, and tracks again).
func (im imageMemory) restoreWritten(image []byte) bool {
	if im.m == nil || im.m.tracker == nil {
		return false
	}
	if !im.m.tracker.restoreWritten(im.m.buf, image) {
		im.m.untrack()
		return false
	}
	return true
}

func (m *mmapMemory) untrack() {
	if m.tracker != nil {
		m.tracker.unregister(m.buf)
		m.tracker = nil
	}
}

func newMmapMemory(_, max uint64) experimental.LinearMemory {
	if max == 0 || max > 1<<32 {
		return &sliceMemory{}
	}
	if buf := pool.take(int(max)); buf != nil {
		return &mmapMemory{buf: buf}
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
	m.used = max(m.used, size)
	return m.buf[:size:size]
}

func (m *mmapMemory) Free() {
	if m.buf == nil {
		return
	}
	m.untrack()
	buf, used := m.buf, m.used
	m.buf, m.used = nil, 0
	if !zero(buf[:used]) || !pool.put(buf, used) {
		syscall.Munmap(buf)
	}
}

// clearLimit is the most of a memory Free clears in place; beyond it the
// pages are handed back to the kernel (MADV_DONTNEED: they read as zero
// and are faulted in again if touched), so that a pooled mapping never
// keeps more than this resident.
var clearLimit = 16 << 20

// zero makes b read as zeros again: cleared in place when short, handed
// back to the kernel otherwise; false if the kernel refused.
func zero(b []byte) bool {
	if len(b) <= clearLimit {
		clear(b)
		return true
	}
	return syscall.Madvise(b, syscall.MADV_DONTNEED) == nil
}

// mappingPool keeps zeroed mappings for reuse, by size, holding at most
// maxPooledPerSize of each and maxPooledResident bytes that may be resident.
type mappingPool struct {
	mu       sync.Mutex
	free     map[int][]pooled
	resident uint64
	reused   uint64 // mappings handed out again (for tests)
}

type pooled struct {
	buf      []byte
	resident uint64 // how much of it may be resident (was cleared in place)
}

const (
	maxPooledPerSize  = 64
	maxPooledResident = 512 << 20
)

var pool = &mappingPool{free: map[int][]pooled{}}

func (p *mappingPool) take(size int) []byte {
	p.mu.Lock()
	defer p.mu.Unlock()
	list := p.free[size]
	if len(list) == 0 {
		return nil
	}
	m := list[len(list)-1]
	p.free[size] = list[:len(list)-1]
	p.resident -= m.resident
	p.reused++
	return m.buf
}

// put keeps buf, zeroed, whose first used bytes may have been touched;
// false when the pool is full (the caller unmaps it).
func (p *mappingPool) put(buf []byte, used uint64) bool {
	resident := used
	if used > uint64(clearLimit) {
		resident = 0 // handed back to the kernel by zero
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.free[len(buf)]) >= maxPooledPerSize || p.resident+resident > maxPooledResident {
		return false
	}
	p.free[len(buf)] = append(p.free[len(buf)], pooled{buf: buf, resident: resident})
	p.resident += resident
	return true
}
