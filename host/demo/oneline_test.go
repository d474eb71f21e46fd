package demo

import (
	"strings"
	"testing"
)

// An item is printed on one line, as it is, but for runes that would
// break or reorder the line, and a long one cut with its length.
func TestOneLine(t *testing.T) {
	for in, want := range map[string]string{
		"where is my parcel?":           "where is my parcel?",
		"café, 中文, 😀 and a space":       "café, 中文, 😀 and a space",
		"two\nlines\tand a tab":         `two\nlines\tand a tab`,
		"a\u2028line separator":         `a\u2028line separator`,
		"right\u202eto left":            `right\u202eto left`,
		"carriage\rreturn and \x00 nul": `carriage\rreturn and \x00 nul`,
		strings.Repeat("é", 100):        strings.Repeat("é", 100),
		strings.Repeat("é", 101):        strings.Repeat("é", 100) + "... (101 characters)",
		strings.Repeat("\n", 150):       strings.Repeat(`\n`, 100) + "... (150 characters)",
	} {
		if got := oneLine(in); got != want {
			t.Errorf("oneLine(%q) = %q, want %q", in, got, want)
		}
	}
}
