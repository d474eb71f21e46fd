package gas

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLEB(t *testing.T) {
	cases := []struct {
		in   string
		bits uint // 0 for u32
		want int64
		ok   bool
	}{
		{"\x00", 0, 0, true},
		{"\x7f", 0, 127, true},
		{"\x80\x01", 0, 128, true},
		{"\xff\xff\xff\xff\x0f", 0, math.MaxUint32, true},
		{"\xff\xff\xff\xff\x1f", 0, 0, false},     // 33 bits
		{"\x80\x80\x80\x80\x80\x00", 0, 0, false}, // too long
		{"\x80", 0, 0, false},                     // truncated
		{"\x7f", 32, -1, true},
		{"\x40", 32, -64, true},
		{"\x3f", 32, 63, true},
		{"\xff\xff\xff\xff\x07", 32, math.MaxInt32, true},
		{"\x80\x80\x80\x80\x78", 32, math.MinInt32, true},
		{"\xff\xff\xff\xff\x0f", 32, 0, false}, // unused bits not a sign extension
		{"\x80\x80\x80\x80\x70", 32, 0, false},
		{"\xff\xff\xff\xff\x0f", 33, math.MaxUint32, true},
		{"\x80\x80\x80\x80\x70", 33, -(1 << 32), true},
		{"\x80\x80\x80\x80\x10", 33, 0, false},
		{"\xff\xff\xff\xff\xff\xff\xff\xff\xff\x00", 64, math.MaxInt64, true},
		{"\x80\x80\x80\x80\x80\x80\x80\x80\x80\x7f", 64, math.MinInt64, true},
		{"\x80\x80\x80\x80\x80\x80\x80\x80\x80\x01", 64, 0, false},
		{"\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x00", 64, 0, false},
	}
	for _, tc := range cases {
		r := &reader{buf: []byte(tc.in), end: len(tc.in)}
		var got int64
		var err error
		if tc.bits == 0 {
			var v uint32
			v, err = r.u32()
			got = int64(v)
		} else {
			got, err = r.signed(tc.bits)
		}
		if (err == nil) != tc.ok || (tc.ok && (got != tc.want || r.pos != len(tc.in))) {
			t.Errorf("% x as %d bits: got %d, %v (pos %d); want %d, ok %v", tc.in, tc.bits, got, err, r.pos, tc.want, tc.ok)
		}
	}
	// Round trips through the encoders.
	for _, v := range []int64{0, 1, -1, 63, 64, -64, -65, math.MaxInt32, math.MinInt32, math.MaxInt64, math.MinInt64} {
		b := appendS64(nil, v)
		r := &reader{buf: b, end: len(b)}
		if got, err := r.s64(); err != nil || got != v {
			t.Errorf("s64 round trip of %d: %d, %v", v, got, err)
		}
	}
	for _, v := range []uint32{0, 127, 128, 1 << 20, math.MaxUint32} {
		b := appendU32(nil, v)
		r := &reader{buf: b, end: len(b)}
		if got, err := r.u32(); err != nil || got != v {
			t.Errorf("u32 round trip of %d: %d, %v", v, got, err)
		}
	}
}

// A tiny module builder for hand-made inputs.
func wasmModule(sections ...[]byte) []byte {
	b := []byte("\x00asm\x01\x00\x00\x00")
	for _, s := range sections {
		b = append(b, s...)
	}
	return b
}

func sec(id byte, payload ...byte) []byte { return appendSection(nil, id, payload) }

// code wraps bodies (locals and instructions, no size) in a code section.
func code(bodies ...[]byte) []byte {
	p := appendU32(nil, uint32(len(bodies)))
	for _, b := range bodies {
		p = appendU32(p, uint32(len(b)))
		p = append(p, b...)
	}
	return sec(secCode, p...)
}

var (
	typeVoid  = sec(secType, 1, 0x60, 0, 0)         // type 0: [] -> []
	oneFunc   = sec(secFunction, 1, 0)              // one function of type 0
	emptyBody = []byte{0, opEnd}                    // no locals, end
	exportF   = sec(secExport, 1, 1, 'f', 0, 0)     // export "f" = func 0
	typeI32   = sec(secType, 1, 0x60, 0, 1, valI32) // type 0: [] -> [i32]
)

func TestMalformed(t *testing.T) {
	cases := []struct {
		name    string
		in      []byte
		section string
		detail  string
	}{
		{"empty", nil, "header", "magic"},
		{"bad magic", []byte("\x00asn\x01\x00\x00\x00"), "header", "magic"},
		{"component", []byte("\x00asm\x0d\x00\x01\x00"), "header", "version"},
		{"section overruns", wasmModule([]byte{secType, 10, 0}), "header", "overruns"},
		{"unknown section", wasmModule(sec(14)), "header", "unknown section"},
		{"out of order", wasmModule(sec(secImport, 0), typeVoid), "header", "out of order"},
		{"repeated", wasmModule(typeVoid, typeVoid), "header", "out of order"},
		{"trailing bytes", wasmModule(sec(secType, 0, 0)), "type", "trailing"},
		{"bad type form", wasmModule(sec(secType, 1, 0x61, 0, 0)), "type", "type form"},
		{"bad value type", wasmModule(sec(secType, 1, 0x60, 1, 0x01, 0)), "type", "value type"},
		{"type index", wasmModule(typeVoid, sec(secFunction, 1, 5)), "function", "type index 5"},
		{"no code", wasmModule(typeVoid, oneFunc), "code", "counts differ"},
		{"count mismatch", wasmModule(typeVoid, oneFunc, code()), "code", "0 bodies for 1 functions"},
		{"no end", wasmModule(typeVoid, oneFunc, code([]byte{0, 0x01})), "code", "before its end"},
		{"after end", wasmModule(typeVoid, oneFunc, code([]byte{0, opEnd, 0x01})), "code", "after the function's end"},
		{"unknown opcode", wasmModule(typeVoid, oneFunc, code([]byte{0, 0xff, opEnd})), "code", "unknown opcode 0xff"},
		{"unknown misc", wasmModule(typeVoid, oneFunc, code([]byte{0, 0xfc, 30, opEnd})), "code", "unknown opcode 0xfc 30"},
		{"else outside if", wasmModule(typeVoid, oneFunc, code([]byte{0, opBlock, blockEmpty, opElse, opEnd, opEnd})), "code", "else outside if"},
		{"label range", wasmModule(typeVoid, oneFunc, code([]byte{0, opBr, 1, opEnd})), "code", "label 1 out of range"},
		{"br_table label", wasmModule(typeVoid, oneFunc, code([]byte{0, opI32Const, 0, opBrTable, 1, 0, 3, opEnd})), "code", "label 3 out of range"},
		{"call range", wasmModule(typeVoid, oneFunc, code([]byte{0, opCall, 9, opEnd})), "code", "function index 9"},
		{"block type", wasmModule(typeVoid, oneFunc, code([]byte{0, opBlock, 7, opEnd, opEnd})), "code", "block type 7"},
		{"truncated immediate", wasmModule(typeVoid, oneFunc, code([]byte{0, opI32Const, 0x80})), "code", "unexpected end"},
		{"export range", wasmModule(typeVoid, oneFunc, exportF[:len(exportF)-1], code(emptyBody)), "export", ""},
		{"export index", wasmModule(typeVoid, oneFunc, sec(secExport, 1, 1, 'f', 0, 3), code(emptyBody)), "export", "out of range"},
		{"duplicate export", wasmModule(typeVoid, oneFunc, sec(secExport, 2, 1, 'f', 0, 0, 1, 'f', 0, 0), code(emptyBody)), "export", "duplicate"},
		{"bad utf-8 name", wasmModule(sec(secCustom, 2, 0xff, 0xfe)), "custom", "UTF-8"},
		{"start range", wasmModule(typeVoid, oneFunc, sec(secStart, 4), code(emptyBody)), "start", "out of range"},
		{"data count", wasmModule(sec(secDataCount, 2)), "data count", "counts differ"},
		{"const expr", wasmModule(sec(secGlobal, 1, valI32, 0, opI32Const, 1, opI32Const, 2, opEnd)), "global", "2 instructions"},
		{"const op", wasmModule(sec(secGlobal, 1, valI32, 0, opLocalGet, 0, opEnd)), "global", "constant instruction"},
		{"limits flags", wasmModule(sec(secMemory, 1, 0x10, 1)), "memory", "limits flags"},
		{"elem flags", wasmModule(sec(secElement, 1, 9)), "element", "flags"},
		{"elem function", wasmModule(sec(secTable, 1, valFuncref, 0, 1), sec(secElement, 1, 0, opI32Const, 0, opEnd, 1, 3)), "element", "function index 3"},
		{"huge vector", wasmModule(sec(secType, 0xff, 0xff, 0xff, 0xff, 0x0f)), "type", "vector length"},
		// 15 bytes that make wazero v1.12 die of a fatal out-of-memory error.
		{"huge import count", wasmModule(sec(secImport, 0xff, 0xff, 0xff, 0xff, 0x0f)), "import", "vector length"},
		{"data flags", wasmModule(sec(secData, 1, 5)), "data", "data segment flags"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for _, f := range []func([]byte) error{
				func(b []byte) error { _, err := Instrument(b, Options{}); return err },
				func(b []byte) error { _, err := Inspect(b); return err },
			} {
				err := f(tc.in)
				var de *DecodeError
				if !errors.As(err, &de) {
					t.Fatalf("want a *DecodeError, got %v", err)
				}
				if de.Section != tc.section || !strings.Contains(de.Detail, tc.detail) {
					t.Errorf("got %v; want section %q, detail containing %q", err, tc.section, tc.detail)
				}
			}
		})
	}
}

// TestTruncated: every prefix of every fixture is an error, never a panic.
func TestTruncated(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.wasm")
	for _, f := range files {
		wasm, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for n := 0; n < len(wasm); n++ {
			if _, err := Instrument(wasm[:n], Options{}); err == nil {
				// A prefix that ends on a section boundary is a valid module.
				if _, err := Inspect(wasm[:n]); err != nil {
					t.Errorf("%s[:%d]: Instrument accepts what Inspect refuses: %v", f, n, err)
				}
			}
			_, _ = Inspect(wasm[:n])
		}
	}
}

// TestCorrupted flips bytes of the fixtures: errors are fine, panics not.
func TestCorrupted(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.wasm")
	x := uint32(2463534242)
	for _, f := range files {
		wasm, _ := os.ReadFile(f)
		for i := 0; i < 2000; i++ {
			b := append([]byte(nil), wasm...)
			for k := 0; k < 1+i%3; k++ {
				x ^= x << 13
				x ^= x >> 17
				x ^= x << 5
				b[8+int(x)%(len(b)-8)] ^= byte(x >> 24)
			}
			_, _ = Instrument(b, Options{})
			_, _ = Inspect(b)
		}
	}
}
