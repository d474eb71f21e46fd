package envelope_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/canswarm/swarmhost/abi/envelope"
)

// Envelopes a second implementation signed with an integer beyond +/-2^53
// are malformed, whatever their hashes were computed over: the exact text
// (which JCS would round) or the rounded value (which the sender did not
// write). The error names the field.
func TestIndependentUnsafeIntegers(t *testing.T) {
	files, err := filepath.Glob("testdata/independent/python/unsafe-integers/*.env")
	if err != nil || len(files) < 10 {
		t.Fatalf("%d files, %v", len(files), err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			wire, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			_, err = envelope.Verify([]byte(strings.TrimSpace(string(wire))))
			if envelope.CodeOf(err) != envelope.CodeMalformed || !strings.Contains(err.Error(), "beyond +/-2^53") {
				t.Fatalf("verify: %v, want malformed: an integer beyond +/-2^53", err)
			}
			field := "payload."
			if strings.Contains(f, "lamport") {
				field = "lamport"
			}
			if !strings.Contains(err.Error(), field) {
				t.Fatalf("verify: %v, want the field (%s) named", err, field)
			}
		})
	}
}

// The same made here: an envelope signed with an integer at 2^53, sent with
// the integer after it (which JCS renders as the one signed), verified on
// the canonical fast path and the general one (indented). It was accepted
// until session 20. At 2^53 itself it is accepted.
func TestUnsafeIntegerSentForTheOneSigned(t *testing.T) {
	for _, tc := range []struct{ signed, sent string }{
		{"9007199254740992", "9007199254740993"},
		{"-9007199254740992", "-9007199254740993"},
	} {
		e, err := envelope.Sign(envelope.Draft{Verb: envelope.VerbNeed, Lamport: 1,
			Payload: []byte(`{"n":` + tc.signed + `}`)}, testKey(1))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := envelope.Verify(e.Wire()); err != nil {
			t.Fatalf("signed %s: %v", tc.signed, err)
		}
		sent := strings.Replace(string(e.Wire()), `"n":`+tc.signed, `"n":`+tc.sent, 1)
		for name, wire := range map[string]string{"canonical": sent, "indented": strings.ReplaceAll(sent, `,"`, ",\n  \"")} {
			_, err := envelope.Verify([]byte(wire))
			if envelope.CodeOf(err) != envelope.CodeMalformed || !strings.Contains(err.Error(), "payload.n") {
				t.Errorf("%s, %s sent for %s: %v, want malformed naming payload.n", name, tc.sent, tc.signed, err)
			}
		}
	}
	// The lamport too.
	e, err := envelope.Sign(envelope.Draft{Verb: envelope.VerbNeed, Lamport: envelope.MaxSafeInteger}, testKey(1))
	if err != nil {
		t.Fatal(err)
	}
	sent := strings.Replace(string(e.Wire()), `"lamport":9007199254740992`, `"lamport":9007199254740993`, 1)
	if _, err := envelope.Verify([]byte(sent)); envelope.CodeOf(err) != envelope.CodeMalformed || !strings.Contains(err.Error(), "lamport") {
		t.Fatalf("lamport 2^53+1 sent for 2^53: %v, want malformed naming lamport", err)
	}
}
