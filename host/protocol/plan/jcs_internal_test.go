package plan

import (
	"cmp"
	"slices"
	"testing"
	"unicode/utf16"

	"pgregory.net/rapid"
)

// compareJCS agrees with comparing the UTF-16 encodings.
func TestCompareJCS(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		chars := rapid.SampledFrom([]rune{'a', 'b', 0x7f, 0xe9, 0xd7ff, 0xe000, 0xff5a, 0xffff, 0x10000, 0x1f600, 0x10ffff})
		a := string(rapid.SliceOfN(chars, 0, 4).Draw(t, "a"))
		b := string(rapid.SliceOfN(chars, 0, 4).Draw(t, "b"))
		want := slices.Compare(utf16.Encode([]rune(a)), utf16.Encode([]rune(b)))
		if got := compareJCS(a, b); cmp.Compare(got, 0) != want {
			t.Fatalf("compareJCS(%q, %q) = %d, want %d", a, b, got, want)
		}
	})
}
