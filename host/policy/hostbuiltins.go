package policy

import (
	"encoding/json"
	"math"
	"net"
	"strconv"
	"time"
)

// expandedSize sizes, before it is made, the result of a builtin that can
// expand a small argument into a large value: net.cidr_expand (a /8 is 16
// million addresses, a /64 more than memory holds) and sprintf (a verb of
// width 999999 is a megabyte, a thousand of them a gigabyte). The host charges a builtin's result by the
// byte, after making it; for these, a result the gas left could not pay for
// is refused before the work (wasm.ErrResultOverBudget), so that a capsule
// cannot spend a host's time and memory beyond its gas. The size is an
// upper bound, in bytes of JSON; ok is false for other builtins, and for
// arguments the builtin itself refuses.
func expandedSize(name string, args []json.RawMessage) (size uint64, ok bool) {
	switch name {
	case "net.cidr_expand":
		var cidr string
		if len(args) != 1 || json.Unmarshal(args[0], &cidr) != nil {
			return 0, false
		}
		_, n, err := net.ParseCIDR(cidr)
		if err != nil {
			return 0, false
		}
		ones, bits := n.Mask.Size()
		per := uint64(len(`"255.255.255.255",`))
		if bits == 128 {
			per = uint64(len(`"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",`))
		}
		if bits-ones >= 58 {
			return math.MaxUint64, true
		}
		return (uint64(1) << (bits - ones)) * per, true
	case "sprintf":
		var format string
		var operands []json.RawMessage
		if len(args) != 2 || json.Unmarshal(args[0], &format) != nil || json.Unmarshal(args[1], &operands) != nil {
			return 0, false
		}
		size := uint64(len(format))
		for _, a := range operands {
			size += 4 * uint64(len(a)) // %x doubles a string, %q of control bytes quadruples it
		}
		return size + formatPadding(format, operands), true
	}
	return 0, false
}

// formatPadding adds up the widths and precisions a Go format string asks
// for, written as digits (each at most a million, as fmt takes them).
func formatPadding(format string, operands []json.RawMessage) uint64 {
	var total uint64
	next := 0 // the operand the next verb takes
	add := func(n uint64) {
		if total += n; total < n {
			total = math.MaxUint64
		}
	}
	for i := 0; i < len(format); i++ {
		if format[i] != '%' {
			continue
		}
	verb:
		for i++; i < len(format); i++ {
			c := format[i]
			switch {
			case c == '*':
				// Go's fmt takes a width from an int operand; OPA hands
				// numbers over as other types, so * writes %!(BADWIDTH).
				next++
			case '0' <= c && c <= '9':
				j := i
				for j < len(format) && '0' <= format[j] && format[j] <= '9' {
					j++
				}
				// Go's fmt ignores a width or precision over a million
				// (%!(BADWIDTH)); many verbs of a million each add up.
				if n, err := strconv.ParseUint(format[i:j], 10, 64); err == nil && n <= 1e6 {
					add(n)
				}
				i = j - 1
			case c == '.' || c == '-' || c == '+' || c == '#' || c == ' ' || c == '[' || c == ']':
			default:
				next++ // the verb takes an operand
				break verb
			}
		}
	}
	return total
}

// acceptedTimeFormats are the layout names time.parse_ns takes besides a
// layout itself, as OPA's own implementation does.
var acceptedTimeFormats = map[string]string{
	"ANSIC": time.ANSIC, "UnixDate": time.UnixDate, "RubyDate": time.RubyDate,
	"RFC822": time.RFC822, "RFC822Z": time.RFC822Z, "RFC850": time.RFC850,
	"RFC1123": time.RFC1123, "RFC1123Z": time.RFC1123Z,
	"RFC3339": time.RFC3339, "RFC3339Nano": time.RFC3339Nano,
}

// timeParseNS is time.parse_ns read in UTC. OPA's own calls time.Parse,
// which gives a zone abbreviation in the value ("PST") the offset it has in
// the host's local time zone, when it has one there: the same capsule and
// input evaluated on hosts in two zones (or replayed in another) gave two
// results. Here an abbreviation is read as UTC reads it: "UTC" is UTC, any
// other gets offset 0 (Go's rule for an abbreviation its location does not
// know), on every host. A numeric offset (-0800) is honoured as before. A
// value that does not parse, or a time outside what nanoseconds since 1970
// in an int64 can hold, is undefined, as in OPA.
func timeParseNS(args []json.RawMessage) json.RawMessage {
	var layout, value string
	if len(args) != 2 || json.Unmarshal(args[0], &layout) != nil || json.Unmarshal(args[1], &value) != nil {
		return nil
	}
	if l, ok := acceptedTimeFormats[layout]; ok {
		layout = l
	}
	t, err := time.ParseInLocation(layout, value, time.UTC)
	if err != nil || t.Before(time.Unix(0, math.MinInt64)) || t.After(time.Unix(0, math.MaxInt64)) {
		return nil
	}
	return strconv.AppendInt(nil, t.UnixNano(), 10)
}
