package jsontext

import (
	"bytes"
	"encoding/json"
	"reflect"
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
		case '[':
			var want []json.RawMessage
			if err := json.Unmarshal(raw, &want); err != nil {
				t.Fatal(err)
			}
			got := SplitArray(raw)
			if len(got) == 0 && len(want) == 0 {
				return
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("%s: elements %q, encoding/json %q", raw, got, want)
			}
		}
	})
}
