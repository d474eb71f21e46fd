package wasm

import (
	"fmt"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"unsafe"
)

// dirtyPages finds the pages of a mapping that were written since they were
// last write-protected, with userfaultfd's asynchronous write protection
// (the kernel resolves the fault itself and clears the page's protection)
// and the PAGEMAP_SCAN ioctl on /proc/self/pagemap, which reports the
// pages whose protection is gone. Both are Linux 6.7+. Recycling an
// instance (image.go) then copies back only the pages its call wrote,
// where it would otherwise compare its whole memory with the image.
//
// The scan can only over-report: a page read but not written (mapped to
// the zero page) counts as written, and a page the host wrote (the call's
// input) too. A page whose protection is gone was written or is treated as
// if it was, so the set the scan reports always holds every page that
// differs from the image.
type dirtyPages struct {
	uffd    int
	pagemap int
}

// The kernel's ABI (include/uapi/linux/userfaultfd.h and fs.h).
// sysUserfaultfd is the system call's number where it is known.
var sysUserfaultfd = map[string]uintptr{"amd64": 323, "arm64": 282}[runtime.GOARCH]

const (
	uffdUserModeOnly         = 1
	uffdAPI                  = 0xAA
	uffdFeatureWPUnpopulated = 1 << 13
	uffdFeatureWPAsync       = 1 << 15
	uffdioRegisterModeWP     = 1 << 1
	uffdioWriteprotectModeWP = 1 << 0

	uffdioAPI          = 0xC018AA3F // _IOWR(0xAA, 0x3F, struct uffdio_api)
	uffdioRegister     = 0xC020AA00 // _IOWR(0xAA, 0x00, struct uffdio_register)
	uffdioUnregister   = 0x8010AA01 // _IOR(0xAA, 0x01, struct uffdio_range)
	uffdioWriteprotect = 0xC018AA06 // _IOWR(0xAA, 0x06, struct uffdio_writeprotect)
	pagemapScan        = 0xC0606610 // _IOWR('f', 16, struct pm_scan_arg)

	pageIsWritten    = 1 << 1
	pmScanWPMatching = 1 << 0
)

type uffdioAPIArg struct{ api, features, ioctls uint64 }

type uffdioRange struct{ start, len uint64 }

type uffdioRegisterArg struct {
	rng          uffdioRange
	mode, ioctls uint64
}

type uffdioWriteprotectArg struct {
	rng  uffdioRange
	mode uint64
}

type pmScanArg struct {
	size, flags, start, end, walkEnd, vec, vecLen, maxPages       uint64
	categoryInverted, categoryMask, categoryAnyofMask, returnMask uint64
}

type pageRegion struct{ start, end, categories uint64 }

// dirtyRegions is how many written stretches one scan reports; a scan that
// finds more stops and is resumed where it stopped.
const dirtyRegions = 128

// regionBufs holds the scans' output arrays. The kernel is handed their
// address inside pm_scan_arg, where the compiler cannot see it: they must
// live on the heap (which does not move), not on a goroutine's stack
// (which does).
var regionBufs = sync.Pool{New: func() any { return new([dirtyRegions]pageRegion) }}

// dirtyPagesOff turns the tracking off (tests of the comparing path);
// SWARMHOST_DIRTY_PAGES=off in the environment does for a process.
var dirtyPagesOff atomic.Bool

var openDirtyPages = sync.OnceValue(func() *dirtyPages {
	if os.Getenv("SWARMHOST_DIRTY_PAGES") == "off" {
		return nil
	}
	d, err := newDirtyPages()
	if err != nil {
		return nil
	}
	return d
})

// dirty returns the process's tracker, or nil where the kernel lacks one
// of the two features (the caller then compares).
func dirty() *dirtyPages {
	if dirtyPagesOff.Load() || sysUserfaultfd == 0 {
		return nil
	}
	return openDirtyPages()
}

func newDirtyPages() (*dirtyPages, error) {
	fd, _, errno := syscall.Syscall(sysUserfaultfd, syscall.O_CLOEXEC|syscall.O_NONBLOCK|uffdUserModeOnly, 0, 0)
	if errno != 0 {
		return nil, fmt.Errorf("userfaultfd: %w", errno)
	}
	api := &uffdioAPIArg{api: uffdAPI, features: uffdFeatureWPAsync | uffdFeatureWPUnpopulated}
	if err := ioctl(int(fd), uffdioAPI, unsafe.Pointer(api)); err != nil {
		syscall.Close(int(fd))
		return nil, fmt.Errorf("userfaultfd: asynchronous write protection: %w", err)
	}
	pm, err := syscall.Open("/proc/self/pagemap", syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
	if err != nil {
		syscall.Close(int(fd))
		return nil, fmt.Errorf("pagemap: %w", err)
	}
	d := &dirtyPages{uffd: int(fd), pagemap: pm}
	// PAGEMAP_SCAN of an empty range tells whether the ioctl exists.
	if _, _, err := d.scan(0, 0, nil, 0); err != nil {
		d.close()
		return nil, fmt.Errorf("PAGEMAP_SCAN: %w", err)
	}
	return d, nil
}

func (d *dirtyPages) close() {
	syscall.Close(d.uffd)
	syscall.Close(d.pagemap)
}

func ioctl(fd int, req uintptr, arg unsafe.Pointer) error {
	_, _, errno := syscall.Syscall(syscall.SYS_IOCTL, uintptr(fd), req, uintptr(arg))
	if errno != 0 {
		return errno
	}
	return nil
}

func span(b []byte) uffdioRange {
	return uffdioRange{start: uint64(uintptr(unsafe.Pointer(unsafe.SliceData(b)))), len: uint64(len(b))}
}

// register puts b (a whole mapping, page aligned) under write tracking.
func (d *dirtyPages) register(b []byte) error {
	arg := &uffdioRegisterArg{rng: span(b), mode: uffdioRegisterModeWP}
	return ioctl(d.uffd, uffdioRegister, unsafe.Pointer(arg))
}

// unregister ends the tracking of b.
func (d *dirtyPages) unregister(b []byte) error {
	arg := &uffdioRange{}
	*arg = span(b)
	return ioctl(d.uffd, uffdioUnregister, unsafe.Pointer(arg))
}

// protect write-protects b: a later write to a page of it marks the page.
func (d *dirtyPages) protect(b []byte) error {
	arg := &uffdioWriteprotectArg{rng: span(b), mode: uffdioWriteprotectModeWP}
	return ioctl(d.uffd, uffdioWriteprotect, unsafe.Pointer(arg))
}

// scan reports the written stretches of [start, end) into vec (none when
// vec is empty), and where the scan stopped (end, unless vec filled up
// first). flags pmScanWPMatching write-protects the pages it matches.
func (d *dirtyPages) scan(start, end uint64, vec []pageRegion, flags uint64) (int, uint64, error) {
	arg := &pmScanArg{size: uint64(unsafe.Sizeof(pmScanArg{})), flags: flags, start: start, end: end,
		categoryMask: pageIsWritten, returnMask: pageIsWritten}
	if len(vec) > 0 {
		arg.vec, arg.vecLen = uint64(uintptr(unsafe.Pointer(&vec[0]))), uint64(len(vec))
	}
	n, _, errno := syscall.Syscall(syscall.SYS_IOCTL, uintptr(d.pagemap), pagemapScan, uintptr(unsafe.Pointer(arg)))
	runtime.KeepAlive(vec)
	if errno != 0 {
		return 0, 0, errno
	}
	return int(n), arg.walkEnd, nil
}

// restoreWritten makes mem[:len(image)] equal to image again by copying
// back only the pages written since the last protect, then protects them
// again. false means it could not (the caller compares everything).
func (d *dirtyPages) restoreWritten(mem, image []byte) bool {
	if len(image) == 0 || len(mem) < len(image) {
		return false
	}
	base := uint64(uintptr(unsafe.Pointer(&mem[0])))
	end := base + uint64(len(image))
	buf := regionBufs.Get().(*[dirtyRegions]pageRegion)
	defer regionBufs.Put(buf)
	vec := buf[:]
	for start := base; start < end; {
		n, walkEnd, err := d.scan(start, end, vec, 0)
		if err != nil || n > len(vec) {
			return false
		}
		for _, r := range vec[:n] {
			from, to := max(r.start, base)-base, min(r.end, end)-base
			if from < to {
				copy(mem[from:to], image[from:to])
			}
		}
		if walkEnd <= start || walkEnd > end {
			return false
		}
		start = walkEnd
	}
	// Protect again what was written (copying into a written page does
	// not fault: its protection is gone): a scan that write-protects the
	// pages it matches walks the page tables once and changes only those,
	// where UFFDIO_WRITEPROTECT over the whole image changed every page's
	// entry (~0.2 ms a Go agent call) and one call per written stretch
	// paid a TLB flush each (worse).
	_, walkEnd, err := d.scan(base, end, nil, pmScanWPMatching)
	return err == nil && walkEnd == end
}
