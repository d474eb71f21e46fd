package wasm

import (
	"bytes"
	"testing"
)

// FuzzDecodeInstEntry: an entry of the instrumented-module cache, whatever
// is on disk, is read back as what was encoded or refused, never a panic.
func FuzzDecodeInstEntry(f *testing.F) {
	f.Add(instEntry{instrumented: []byte("\x00asm\x01\x00\x00\x00")}.encode())
	f.Add(instEntry{instrumented: []byte{1, 2, 3}, imageErr: "the module has a start function"}.encode())
	f.Add([]byte("swarmhost-instrumented-1\n\xff\xff\xff\xff"))
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := decodeInstEntry(b)
		if err != nil {
			return
		}
		if again := e.encode(); !bytes.Equal(again, b) {
			t.Fatalf("decoded and encoded again, %q became %q", b, again)
		}
	})
}
