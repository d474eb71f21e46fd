package protocol_test

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// args is a script command's arguments: positional words and key=value
// pairs. A value may be JSON with spaces inside brackets, braces or quotes.
type args struct {
	pos  []string
	kv   map[string]string
	used map[string]bool
}

// splitWords splits a command line on spaces outside JSON nesting.
func splitWords(line string) ([]string, error) {
	var words []string
	var cur strings.Builder
	depth, inStr, esc := 0, false, false
	for _, r := range line {
		switch {
		case inStr:
			if esc {
				esc = false
			} else if r == '\\' {
				esc = true
			} else if r == '"' {
				inStr = false
			}
		case r == '"':
			inStr = true
		case r == '{' || r == '[':
			depth++
		case r == '}' || r == ']':
			depth--
		case r == ' ' && depth == 0:
			if cur.Len() > 0 {
				words = append(words, cur.String())
				cur.Reset()
			}
			continue
		}
		cur.WriteRune(r)
	}
	if inStr || depth != 0 {
		return nil, fmt.Errorf("unbalanced JSON in %q", line)
	}
	if cur.Len() > 0 {
		words = append(words, cur.String())
	}
	return words, nil
}

func parseArgs(words []string) *args {
	a := &args{kv: map[string]string{}, used: map[string]bool{}}
	for _, w := range words {
		k, v, ok := strings.Cut(w, "=")
		if ok && k != "" && !strings.ContainsAny(k, "{[\"") {
			a.kv[k] = v
		} else {
			a.pos = append(a.pos, w)
		}
	}
	return a
}

func (a *args) has(k string) bool { _, ok := a.kv[k]; return ok }

func (a *args) str(k, def string) string {
	a.used[k] = true
	if v, ok := a.kv[k]; ok {
		return v
	}
	return def
}

func (a *args) num(k string, def uint64) (uint64, error) {
	a.used[k] = true
	v, ok := a.kv[k]
	if !ok {
		return def, nil
	}
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%s=%s: not a number", k, v)
	}
	return n, nil
}

// list splits a comma-separated value; "none" is the empty list.
func (a *args) list(k, def string) []string {
	v := a.str(k, def)
	if v == "" || v == "none" {
		return nil
	}
	return strings.Split(v, ",")
}

// flag reports whether the bare word w was given.
func (a *args) flag(w string) bool {
	for i, p := range a.pos {
		if p == w {
			a.pos = append(a.pos[:i:i], a.pos[i+1:]...)
			return true
		}
	}
	return false
}

// unused names the keys the command did not read (script typos).
func (a *args) unused() []string {
	var out []string
	for k := range a.kv {
		if !a.used[k] {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}
