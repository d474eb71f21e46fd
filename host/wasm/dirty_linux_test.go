package wasm

import (
	"bytes"
	"syscall"
	"testing"
)

// The kernel reports exactly the pages written since they were protected,
// restoreWritten copies those back, and protects them again.
func TestDirtyPagesReportsWrittenPages(t *testing.T) {
	d := dirty()
	if d == nil {
		t.Skip("this kernel lacks userfaultfd's asynchronous write protection or PAGEMAP_SCAN (Linux 6.7+): recycling compares instead (TestRecycledInstancesStartFromTheImage covers both)")
	}
	const page, pages = 4096, 32
	mem, err := syscall.Mmap(-1, 0, page*pages, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_PRIVATE|syscall.MAP_ANONYMOUS)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Munmap(mem)
	for i := range mem {
		mem[i] = byte(i * 7)
	}
	image := append([]byte(nil), mem...)
	if err := d.register(mem); err != nil {
		t.Fatal(err)
	}
	defer d.unregister(mem)
	if err := d.protect(mem); err != nil {
		t.Fatal(err)
	}
	written := func() []int {
		t.Helper()
		buf := regionBufs.Get().(*[dirtyRegions]pageRegion)
		defer regionBufs.Put(buf)
		vec := buf[:]
		base := span(mem).start
		n, end, err := d.scan(base, base+uint64(len(mem)), vec, 0)
		if err != nil || end != base+uint64(len(mem)) {
			t.Fatalf("scan: %v, stopped at %x", err, end)
		}
		var got []int
		for _, r := range vec[:n] {
			for p := (r.start - base) / page; p < (r.end-base)/page; p++ {
				got = append(got, int(p))
			}
		}
		return got
	}
	if got := written(); len(got) != 0 {
		t.Fatalf("pages %v reported before any write", got)
	}
	mem[3*page+100] ^= 0xff
	mem[17*page] ^= 0xff
	mem[18*page+4095] ^= 0xff
	if got := written(); !equalInts(got, []int{3, 17, 18}) {
		t.Fatalf("written pages %v, want [3 17 18]", got)
	}
	if !d.restoreWritten(mem, image) {
		t.Fatal("restoreWritten failed")
	}
	if !bytes.Equal(mem, image) {
		t.Fatal("the memory differs from the image after restoreWritten")
	}
	if got := written(); len(got) != 0 {
		t.Fatalf("pages %v still reported after restoreWritten protected them again", got)
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
