package protocol

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"slices"
	"strconv"

	"github.com/canswarm/swarmhost/abi/envelope"
)

// decidedList is every decision the core holds as "need epoch fence", the
// list a CHECKPOINT counts and hashes (sorted, as JSON). It is kept as the
// decisions come rather than rebuilt from every thread at each checkpoint:
// a long-running node's checkpoint then hashes the list instead of
// formatting and sorting every decision it ever saw on its loop (decisions
// are never dropped: retired threads keep theirs).
type decidedList struct {
	sorted []string
	added  []string // since the last digest, unsorted
}

func (l *decidedList) add(need string, epoch, fence uint64) {
	l.added = append(l.added, need+" "+strconv.FormatUint(epoch, 10)+" "+strconv.FormatUint(fence, 10))
}

// digest returns the count and the HashRef of the sorted list's JSON, as
// json.Marshal writes it (null when there is none).
func (l *decidedList) digest() (int, string) {
	if len(l.added) > 0 {
		slices.Sort(l.added)
		l.sorted = mergeSorted(l.sorted, l.added)
		l.added = l.added[:0]
	}
	if len(l.sorted) == 0 {
		return 0, envelope.HashRef([]byte("null")) // json.Marshal of a nil list
	}
	h := sha256.New()
	var buf []byte
	buf = append(buf, '[')
	for i, s := range l.sorted {
		if i > 0 {
			buf = append(buf, ',')
		}
		if plainJSONString(s) {
			buf = append(append(append(buf, '"'), s...), '"')
		} else {
			q, _ := json.Marshal(s)
			buf = append(buf, q...)
		}
		if len(buf) > 32<<10 {
			h.Write(buf)
			buf = buf[:0]
		}
	}
	h.Write(append(buf, ']'))
	return len(l.sorted), envelope.RefPrefix + hex.EncodeToString(h.Sum(nil))
}

// mergeSorted merges b into a (both sorted), in place at the end of a.
func mergeSorted(a, b []string) []string {
	n := len(a)
	a = slices.Grow(a, len(b))[:n+len(b)]
	i, j, k := n-1, len(b)-1, n+len(b)-1
	for j >= 0 {
		if i >= 0 && a[i] > b[j] {
			a[k] = a[i]
			i--
		} else {
			a[k] = b[j]
			j--
		}
		k--
	}
	return a
}

// plainJSONString reports whether json.Marshal writes s as its bytes in
// quotes: printable ASCII without a quote, a backslash or one of the <, >
// and & it escapes.
func plainJSONString(s string) bool {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c < 0x20 || c >= 0x7f, c == '"', c == '\\', c == '<', c == '>', c == '&':
			return false
		}
	}
	return true
}
