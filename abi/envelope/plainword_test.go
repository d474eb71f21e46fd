package envelope

import "testing"

// plainWord agrees with plainStringByte on every byte of every word of a
// table that puts each byte value at each position among plain ones.
func TestPlainWordAgreesWithPlainStringByte(t *testing.T) {
	for c := 0; c < 256; c++ {
		for pos := 0; pos < 8; pos++ {
			b := []byte("abcdefgh")
			b[pos] = byte(c)
			w := uint64(0)
			for i := 7; i >= 0; i-- {
				w = w<<8 | uint64(b[i])
			}
			if got, want := plainWord(w), plainStringByte[c]; got != want {
				t.Fatalf("byte %#x at %d: plainWord %v, plainStringByte %v", c, pos, got, want)
			}
		}
	}
}
