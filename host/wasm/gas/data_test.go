package gas

import (
	"bytes"
	"testing"
)

// merges reports whether Instrument merges the data segments of wasm.
func merges(wasm []byte) bool {
	m, err := decodeModule(wasm, true)
	return err == nil && m.mergeData() != nil
}

// dataSeg is an active data segment of memory 0 at an i32.const offset.
func dataSeg(offset int32, init string) []byte {
	b := []byte{0, opI32Const}
	b = appendS32(b, offset)
	b = append(b, opEnd)
	b = appendU32(b, uint32(len(init)))
	return append(b, init...)
}

func dataSection(segs ...[]byte) []byte {
	payload := appendU32(nil, uint32(len(segs)))
	for _, s := range segs {
		payload = append(payload, s...)
	}
	return sec(secData, payload...)
}

var (
	ownMemory    = sec(secMemory, 1, 0, 1)                                        // one memory, min 1 page
	exportMemory = sec(secExport, 1, 3, 'm', 'e', 'm', 2, 0)                      // export "mem" = memory 0
	importMemory = sec(secImport, 1, 3, 'e', 'n', 'v', 3, 'm', 'e', 'm', 2, 0, 1) // import env.mem, min 1
)

// memoryAfterInstantiation instantiates a module (instrumented or not) and
// returns its exported memory "mem".
func memoryAfterInstantiation(t *testing.T, wasm []byte, memName string) []byte {
	t.Helper()
	ctx, r := newHost(t, true)
	inst, _, err := instantiate(t, ctx, r, wasm, false, bigBudget)
	if err != nil {
		t.Fatal(err)
	}
	mem := inst.mod.ExportedMemory(memName)
	b, _ := mem.Read(0, mem.Size())
	return append([]byte(nil), b...)
}

// Segments out of order and with gaps of zeros between them are merged into
// fewer, and the memory after instantiation is byte for byte the same.
func TestDataSegmentsMerged(t *testing.T) {
	segs := dataSection(dataSeg(300, "cc"), dataSeg(16, "aaaa"), dataSeg(100, "bbb"), dataSeg(4000, "dd"),
		dataSeg(9000, "far away"))
	wasm := wasmModule(ownMemory, exportMemory, segs)
	out, err := Instrument(wasm, Options{})
	if err != nil {
		t.Fatal(err)
	}
	m, err := decodeModule(out, false)
	if err != nil {
		t.Fatal(err)
	}
	// 16, 100 and 300 within maxDataGap of each other; 4000 and 9000 beyond.
	if len(m.data) != 3 || m.data[0].offset != 16 || len(m.data[0].init) != 302-16 || m.data[1].offset != 4000 {
		t.Fatalf("segments after merging: %+v", m.data)
	}
	if a, b := memoryAfterInstantiation(t, wasm, "mem"), memoryAfterInstantiation(t, out, "mem"); !bytes.Equal(a, b) {
		t.Fatal("the memory after instantiation differs")
	}

	// A Go module's 40,000-odd segments: merged, the same memory.
	goWasm := buildGoModule(t)
	goOut, err := Instrument(goWasm, Options{})
	if err != nil {
		t.Fatal(err)
	}
	before, _ := decodeModule(goWasm, false)
	after, _ := decodeModule(goOut, false)
	if len(after.data) >= len(before.data)/100 {
		t.Fatalf("the Go module's %d data segments became %d", len(before.data), len(after.data))
	}
	if a, b := memoryAfterInstantiation(t, goWasm, "memory"), memoryAfterInstantiation(t, goOut, "memory"); !bytes.Equal(a, b) {
		t.Fatal("the Go module's memory after instantiation differs")
	}
}

// Segments are kept as they are where merging could be observed or is
// not known to be safe.
func TestDataSegmentsKept(t *testing.T) {
	cases := map[string][]byte{
		"overlapping":     wasmModule(ownMemory, dataSection(dataSeg(16, "aaaa"), dataSeg(18, "bb"))),
		"imported memory": wasmModule(importMemory, dataSection(dataSeg(16, "aaaa"), dataSeg(100, "bb"))),
		"passive":         wasmModule(ownMemory, dataSection(dataSeg(16, "aaaa"), append(append([]byte{1}, appendU32(nil, 2)...), "bb"...))),
		"global offset": wasmModule(ownMemory, sec(secGlobal, 1, 0x7f, 0, opI32Const, 5, opEnd),
			dataSection(dataSeg(16, "aaaa"), []byte{0, opGlobalGet, 0, opEnd, 0})),
		"one segment": wasmModule(ownMemory, dataSection(dataSeg(16, "aaaa"))),
	}
	for name, wasm := range cases {
		m, err := decodeModule(wasm, false)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if m.mergeData() != nil {
			t.Errorf("%s: merged", name)
		}
	}
}
