package jsontext

import (
	"bytes"
	"encoding/json"
	"reflect"
	"slices"
	"testing"
	"unicode/utf8"
)

// decoderMembers is what SplitObject replaced: the members as a
// json.Decoder reads them.
func decoderMembers(t *testing.T, raw []byte) []Member {
	dec := json.NewDecoder(bytes.NewReader(raw))
	if _, err := dec.Token(); err != nil {
		t.Fatal(err)
	}
	var members []Member
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			t.Fatal(err)
		}
		members = append(members, Member{tok.(string), v})
	}
	return members
}

// FuzzSplitAgreesWithDecoder: on every valid UTF-8 JSON object or array,
// SplitObject and SplitArray give what encoding/json gives.
func FuzzSplitAgreesWithDecoder(f *testing.F) {
	for _, seed := range []string{
		`{"op":"ADD_TASK","task":"t1","spec":{"b":[1,2.5,"\u00e9"],"a":null}}`,
		` { "a" : [ 1 , { "b" : "}]\"" } ] , "\u0041" : true , "c":-1.5e3 } `,
		`{}`, `[]`, `[ 1 , "x" , [ ] , { } , null ]`, `{"a\\"b":"\\","":""}`,
		"{\"k\\n\":[\"<&>\",\"\\ud83d\\ude00\"]}",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		if !json.Valid(raw) || !utf8.Valid(raw) { // what checkJSON lets through
			return
		}
		switch bytes.TrimSpace(raw)[0] {
		case '{':
			got, want := SplitObject(raw), decoderMembers(t, raw)
			if len(got) != len(want) {
				t.Fatalf("%s: %d members, the decoder %d", raw, len(got), len(want))
			}
			for i := range got {
				if got[i].Key != want[i].Key || !bytes.Equal(got[i].Raw, want[i].Raw) {
					t.Fatalf("%s: member %d is %q=%s, the decoder's %q=%s", raw, i, got[i].Key, got[i].Raw, want[i].Key, want[i].Raw)
				}
			}
			// EachMember walks the same members; KeyIs decodes its keys
			// as the decoder does; HasKeys finds every key and no other.
			i := 0
			EachMember(raw, func(quoted []byte, v json.RawMessage) bool {
				if i >= len(want) || !KeyIs(quoted, want[i].Key) || KeyIs(quoted, want[i].Key+"x") ||
					!bytes.Equal(v, want[i].Raw) {
					t.Fatalf("%s: EachMember's member %d is %s=%s, the decoder's %q=%s", raw, i, quoted, v, want[i].Key, want[i].Raw)
				}
				i++
				return true
			})
			if i != len(want) {
				t.Fatalf("%s: EachMember gave %d members, the decoder %d", raw, i, len(want))
			}
			var keys []string
			for _, m := range want {
				keys = append(keys, m.Key)
			}
			if missing, ok := HasKeys(raw, keys...); !ok {
				t.Fatalf("%s: HasKeys misses %q", raw, missing)
			}
			absent := "absent"
			for slices.Contains(keys, absent) {
				absent += "!"
			}
			if missing, ok := HasKeys(raw, append(keys, absent)...); ok || missing != absent {
				t.Fatalf("%s: HasKeys(%q) = %q, %v", raw, absent, missing, ok)
			}
		case '[':
			var want []json.RawMessage
			if err := json.Unmarshal(raw, &want); err != nil {
				t.Fatal(err)
			}
			got := SplitArray(raw)
			var each []json.RawMessage // EachElement walks the same elements
			EachElement(raw, func(v json.RawMessage) bool { each = append(each, v); return true })
			if len(got) == 0 && len(want) == 0 && len(each) == 0 {
				return
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("%s: elements %q, encoding/json %q", raw, got, want)
			}
			if !reflect.DeepEqual(each, want) {
				t.Fatalf("%s: EachElement gave %q, encoding/json %q", raw, each, want)
			}
		case '"':
			// PlainString takes only strings every decoder reads as
			// their bytes.
			if s, ok := PlainString(bytes.TrimSpace(raw)); ok {
				var want string
				if err := json.Unmarshal(raw, &want); err != nil || s != want {
					t.Fatalf("%s: PlainString %q, encoding/json %q (%v)", raw, s, want, err)
				}
			}
		}
	})
}
