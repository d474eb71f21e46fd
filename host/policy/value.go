package policy

import (
	"encoding/json"
	"fmt"

	"github.com/open-policy-agent/opa/v1/ast"
)

// readValue reads the Rego value syntax opa_eval writes in its value format:
// JSON, plus sets written {a, b} (and set() when empty). It builds OPA terms
// directly, which is several times cheaper than OPA's Rego parser, so that
// sets can then be ordered exactly as OPA's evaluator orders them.
func readValue(text []byte) (*ast.Term, error) {
	r := &valueReader{s: text}
	t, err := r.term(0)
	if err != nil {
		return nil, err
	}
	r.space()
	if r.i != len(r.s) {
		return nil, fmt.Errorf("trailing text at byte %d", r.i)
	}
	return t, nil
}

type valueReader struct {
	s []byte
	i int
}

const maxValueDepth = 1000

func (r *valueReader) space() {
	for r.i < len(r.s) && (r.s[r.i] == ' ' || r.s[r.i] == '\n' || r.s[r.i] == '\t' || r.s[r.i] == '\r') {
		r.i++
	}
}

func (r *valueReader) errf(format string, args ...any) error {
	return fmt.Errorf("value at byte %d: %s", r.i, fmt.Sprintf(format, args...))
}

func (r *valueReader) term(depth int) (*ast.Term, error) {
	if depth > maxValueDepth {
		return nil, r.errf("nested deeper than %d", maxValueDepth)
	}
	r.space()
	if r.i >= len(r.s) {
		return nil, r.errf("unexpected end")
	}
	switch c := r.s[r.i]; {
	case c == '"':
		return r.str()
	case c == '[':
		r.i++
		var elems []*ast.Term
		for {
			r.space()
			if r.i < len(r.s) && r.s[r.i] == ']' && len(elems) == 0 {
				r.i++
				return ast.ArrayTerm(), nil
			}
			t, err := r.term(depth + 1)
			if err != nil {
				return nil, err
			}
			elems = append(elems, t)
			r.space()
			if r.i >= len(r.s) {
				return nil, r.errf("unterminated array")
			}
			if r.s[r.i] == ']' {
				r.i++
				return ast.ArrayTerm(elems...), nil
			}
			if r.s[r.i] != ',' {
				return nil, r.errf("expected , or ] in an array")
			}
			r.i++
		}
	case c == '{':
		return r.braces(depth)
	case c == 's':
		if r.lit("set()") {
			return ast.SetTerm(), nil
		}
	case c == 't':
		if r.lit("true") {
			return ast.BooleanTerm(true), nil
		}
	case c == 'f':
		if r.lit("false") {
			return ast.BooleanTerm(false), nil
		}
	case c == 'n':
		if r.lit("null") {
			return ast.NullTerm(), nil
		}
	case c == '-' || '0' <= c && c <= '9':
		start := r.i
		for r.i < len(r.s) && isNumberByte(r.s[r.i]) {
			r.i++
		}
		lit := string(r.s[start:r.i])
		if !json.Valid([]byte(lit)) {
			return nil, r.errf("bad number %q", lit)
		}
		return ast.NumberTerm(json.Number(lit)), nil
	}
	return nil, r.errf("unexpected %q", r.s[r.i])
}

func isNumberByte(c byte) bool {
	return '0' <= c && c <= '9' || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E'
}

func (r *valueReader) lit(word string) bool {
	if len(r.s)-r.i >= len(word) && string(r.s[r.i:r.i+len(word)]) == word {
		r.i += len(word)
		return true
	}
	return false
}

// str reads a JSON string.
func (r *valueReader) str() (*ast.Term, error) {
	start := r.i
	r.i++
	escaped := false
	for r.i < len(r.s) {
		switch r.s[r.i] {
		case '\\':
			escaped = true
			r.i += 2
			continue
		case '"':
			r.i++
			raw := r.s[start:r.i]
			if !escaped {
				return ast.StringTerm(string(raw[1 : len(raw)-1])), nil
			}
			var s string
			if err := json.Unmarshal(raw, &s); err != nil {
				return nil, r.errf("bad string: %v", err)
			}
			return ast.StringTerm(s), nil
		}
		r.i++
	}
	return nil, r.errf("unterminated string")
}

// braces reads an object {k: v, ...} or a non-empty set {a, ...}.
func (r *valueReader) braces(depth int) (*ast.Term, error) {
	r.i++
	r.space()
	if r.i < len(r.s) && r.s[r.i] == '}' {
		r.i++
		return ast.ObjectTerm(), nil
	}
	first, err := r.term(depth + 1)
	if err != nil {
		return nil, err
	}
	r.space()
	if r.i < len(r.s) && r.s[r.i] == ':' {
		var pairs [][2]*ast.Term
		key := first
		for {
			r.i++ // the ':'
			v, err := r.term(depth + 1)
			if err != nil {
				return nil, err
			}
			pairs = append(pairs, [2]*ast.Term{key, v})
			r.space()
			if r.i >= len(r.s) {
				return nil, r.errf("unterminated object")
			}
			if r.s[r.i] == '}' {
				r.i++
				return ast.ObjectTerm(pairs...), nil
			}
			if r.s[r.i] != ',' {
				return nil, r.errf("expected , or } in an object")
			}
			r.i++
			if key, err = r.term(depth + 1); err != nil {
				return nil, err
			}
			r.space()
			if r.i >= len(r.s) || r.s[r.i] != ':' {
				return nil, r.errf("expected : in an object")
			}
		}
	}
	elems := []*ast.Term{first}
	for {
		r.space()
		if r.i >= len(r.s) {
			return nil, r.errf("unterminated set")
		}
		if r.s[r.i] == '}' {
			r.i++
			return ast.SetTerm(elems...), nil
		}
		if r.s[r.i] != ',' {
			return nil, r.errf("expected , or } in a set")
		}
		r.i++
		t, err := r.term(depth + 1)
		if err != nil {
			return nil, err
		}
		elems = append(elems, t)
	}
}
