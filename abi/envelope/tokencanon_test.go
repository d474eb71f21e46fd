package envelope

import (
	"bytes"
	"crypto/ed25519"
	"reflect"
	"strings"
	"testing"
)

// splitList turns a fuzzed string into a list ("|" separates; "~" alone
// is the nil list, which json.Marshal writes as null).
func splitList(s string) []string {
	if s == "~" {
		return nil
	}
	if s == "" {
		return []string{}
	}
	return strings.Split(s, "|")
}

// FuzzCanonicalTokenAgreesWithJSON holds the direct writer of a token's JCS
// form to encoding/json + jcs, for any field values, with and without sig.
func FuzzCanonicalTokenAgreesWithJSON(f *testing.F) {
	f.Add(int64(1), uint64(0), "ab", "cd", "worker|verifier", "classify", "ef")
	f.Add(int64(-1<<60), uint64(1<<60), "\u2028<&>", "\x00\x1f\"\\", "~", "", "\xff")
	f.Add(int64(9007199254740993), uint64(9007199254740992), "é", "\U0001F600", "a|", "~", "")
	f.Fuzz(func(t *testing.T, v int64, notAfter uint64, issuer, subject, roles, caps, sig string) {
		tok := &Token{V: v, IssuerPK: issuer, SubjectPK: subject, Capabilities: splitList(caps), NotAfter: notAfter, Sig: sig}
		if rs := splitList(roles); rs != nil {
			tok.Roles = []Role{}
			for _, r := range rs {
				tok.Roles = append(tok.Roles, Role(r))
			}
		}
		for _, withSig := range []bool{false, true} {
			got, gerr := canonicalToken(tok, withSig)
			want, werr := canonicalTokenJSON(tok, withSig)
			if (gerr == nil) != (werr == nil) || !bytes.Equal(got, want) {
				t.Fatalf("withSig %v:\n got %s (%v)\nwant %s (%v)", withSig, got, gerr, want, werr)
			}
		}
	})
}

// FuzzParseTokenScanAgreesWithGeneralPath: the one-scan path for canonical
// text gives the same token, or the same refusal code, as canonicalizing.
func FuzzParseTokenScanAgreesWithGeneralPath(f *testing.F) {
	issuer := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{1}, 32))
	subject := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{2}, 32))
	tok, err := IssueToken(issuer, subject.Public().(ed25519.PublicKey), []Role{RoleWorker}, []string{"classify"}, 0)
	if err != nil {
		f.Fatal(err)
	}
	canon, err := tok.Canonical()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(canon)
	f.Add(bytes.Replace(canon, []byte(`"v":1`), []byte(`"v":1.0`), 1))
	f.Add(bytes.Replace(canon, []byte(`"roles":["worker"]`), []byte(`"roles":"worker"`), 1))
	f.Add([]byte(`{"capabilities":[],"issuer_pk":"","not_after":0,"roles":[],"sig":"","subject_pk":"","v":1}`))
	f.Fuzz(func(t *testing.T, text []byte) {
		fast, ferr := parseToken(text, true)
		slow, serr := parseToken(text, false)
		if (ferr == nil) != (serr == nil) || CodeOf(ferr) != CodeOf(serr) || !reflect.DeepEqual(fast, slow) {
			t.Fatalf("%q:\nscan    %+v (%v)\ngeneral %+v (%v)", text, fast, ferr, slow, serr)
		}
	})
}
