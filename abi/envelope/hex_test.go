package envelope

import (
	"strings"
	"testing"
)

// isLowerHexByByte is the plain definition isLowerHex's word-at-a-time
// loop must agree with.
func isLowerHexByByte(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isLowerHexDigit(s[i]) {
			return false
		}
	}
	return true
}

func TestIsLowerHexEveryByteAtEveryPosition(t *testing.T) {
	base := strings.Repeat("0123456789abcdef", 8) // 128 digits, a signature's length
	for _, n := range []int{0, 1, 7, 8, 9, 15, 16, 63, 64, 65, 128} {
		for pos := 0; pos < n; pos++ {
			for c := 0; c < 256; c++ {
				s := base[:pos] + string([]byte{byte(c)}) + base[pos+1:n]
				if got, want := isLowerHex(s), isLowerHexByByte(s); got != want {
					t.Fatalf("isLowerHex(%q) = %v, want %v (byte %#x at %d of %d)", s, got, want, c, pos, n)
				}
			}
		}
	}
}

func FuzzIsLowerHex(f *testing.F) {
	f.Add("0123456789abcdef0123456789abcdef")
	f.Add("0123456789ABCDEF")
	f.Add("g")
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := isLowerHex(s), isLowerHexByByte(s); got != want {
			t.Fatalf("isLowerHex(%q) = %v, want %v", s, got, want)
		}
	})
}

func BenchmarkIsLowerHex(b *testing.B) {
	sig := strings.Repeat("0123456789abcdef", 8)
	for b.Loop() {
		if !isLowerHex(sig) {
			b.Fatal("not hex")
		}
	}
}
