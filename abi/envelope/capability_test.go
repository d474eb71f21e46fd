package envelope_test

import (
	"crypto/ed25519"
	"strings"
	"testing"

	"github.com/canswarm/swarmhost/abi/envelope"
)

func tokenEnvelope(t *testing.T, sender ed25519.PrivateKey, verb envelope.Verb, capRef string, lamport uint64) *envelope.Envelope {
	t.Helper()
	e, err := envelope.Sign(envelope.Draft{ThreadID: ref('a'), Verb: verb, Lamport: lamport, Capability: capRef}, sender)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func TestCapabilityTokens(t *testing.T) {
	root, worker, stranger := testKey(10), testKey(11), testKey(12)
	roots := envelope.Roots{envelope.EncodePublicKey(root.Public().(ed25519.PublicKey))}
	tok, err := envelope.IssueToken(root, worker.Public().(ed25519.PublicKey), []envelope.Role{envelope.RoleWorker}, []string{"classify"}, 100)
	if err != nil {
		t.Fatal(err)
	}
	// The stored form parses back to the same token and ref.
	canon, err := tok.Canonical()
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := envelope.ParseToken(canon)
	if err != nil {
		t.Fatal(err)
	}
	tokRef, _ := tok.Ref()
	if r, _ := parsed.Ref(); r != tokRef || r != envelope.HashRef(canon) {
		t.Fatalf("ref changed through the CAS form: %s vs %s", r, tokRef)
	}
	if !parsed.HasCapability("classify") || !parsed.HasRole(envelope.RoleWorker) {
		t.Fatal("grants lost")
	}

	strangerTok, _ := envelope.IssueToken(stranger, worker.Public().(ed25519.PublicKey), []envelope.Role{envelope.RoleWorker}, nil, 0)
	strangerRef, _ := strangerTok.Ref()
	forged := *parsed
	forged.Roles = []envelope.Role{envelope.RoleHost} // edited after signing
	forgedRef, _ := forged.Ref()

	cases := []struct {
		name string
		tok  *envelope.Token
		env  *envelope.Envelope
		want envelope.Code
	}{
		{"worker may claim", parsed, tokenEnvelope(t, worker, envelope.VerbClaim, tokRef, 5), ""},
		{"at not_after is still valid", parsed, tokenEnvelope(t, worker, envelope.VerbCommit, tokRef, 100), ""},
		{"worker may not decide", parsed, tokenEnvelope(t, worker, envelope.VerbDecide, tokRef, 5), envelope.CodeUnauthorized},
		{"no token named", parsed, tokenEnvelope(t, worker, envelope.VerbClaim, "", 5), envelope.CodeBadCapability},
		{"token at another ref", parsed, tokenEnvelope(t, worker, envelope.VerbClaim, ref('b'), 5), envelope.CodeBadCapability},
		{"subject is not the sender", parsed, tokenEnvelope(t, stranger, envelope.VerbClaim, tokRef, 5), envelope.CodeBadCapability},
		{"expired", parsed, tokenEnvelope(t, worker, envelope.VerbClaim, tokRef, 101), envelope.CodeBadCapability},
		{"untrusted issuer", strangerTok, tokenEnvelope(t, worker, envelope.VerbClaim, strangerRef, 5), envelope.CodeBadCapability},
		{"roles edited after signing", &forged, tokenEnvelope(t, worker, envelope.VerbDecide, forgedRef, 5), envelope.CodeBadCapability},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := envelope.CheckToken(c.tok, c.env, roots)
			if got := envelope.CodeOf(err); got != c.want {
				t.Fatalf("got %q (%v), want %q", got, err, c.want)
			}
		})
	}
}

func TestRoleTable(t *testing.T) {
	// PROTOCOL.md section 4, row by row.
	table := map[envelope.Role][]envelope.Verb{
		envelope.RoleClient:   {"NEED", "CHALLENGE"},
		envelope.RolePlanner:  {"PROPOSE", "UPDATE_PLAN"},
		envelope.RoleWorker:   {"PROPOSE", "CLAIM", "HEARTBEAT", "YIELD", "COMMIT", "UPDATE_PLAN"},
		envelope.RoleVerifier: {"ATTEST", "CHALLENGE"},
		envelope.RoleHost:     {"DECIDE", "RELEASE", "FINALIZE", "INVALIDATE", "RECONCILE", "CHECKPOINT", "UPDATE_PLAN"},
	}
	for role, verbs := range table {
		allowed := map[envelope.Verb]bool{}
		for _, v := range verbs {
			allowed[v] = true
		}
		for _, v := range envelope.Verbs {
			if role.MaySend(v) != allowed[v] {
				t.Errorf("%s may send %s: got %v, want %v", role, v, role.MaySend(v), allowed[v])
			}
		}
	}
}

func TestParseTokenRefusesJunk(t *testing.T) {
	for _, text := range []string{`nope`, `[]`, `{"v":1}`, `{"v":2,"issuer_pk":"","subject_pk":"","roles":[],"capabilities":[],"not_after":0,"sig":""}`} {
		if _, err := envelope.ParseToken([]byte(text)); envelope.CodeOf(err) != envelope.CodeBadCapability {
			t.Errorf("%s: got %v", text, err)
		}
	}
}

// envelope.CheckTokenStored runs the per-envelope checks of CheckToken and
// the roots', not the ref or the issuer's signature: a token checked in
// full once is not hashed or verified again, and the per-envelope checks
// still refuse.
func TestCheckTokenStoredSkipsOnlyRefAndSignature(t *testing.T) {
	_, root, _ := ed25519.GenerateKey(nil)
	pub, priv, _ := ed25519.GenerateKey(nil)
	tok, err := envelope.IssueToken(root, pub, []envelope.Role{envelope.RoleWorker}, []string{"classify"}, 0)
	if err != nil {
		t.Fatal(err)
	}
	ref, _ := tok.Ref()
	roots := envelope.Roots{envelope.EncodePublicKey(root.Public().(ed25519.PublicKey))}
	e, err := envelope.Sign(envelope.Draft{ThreadID: envelope.HashRef([]byte("n")), Verb: envelope.VerbPropose, Lamport: 2, Capability: ref,
		Payload: map[string]any{"epoch": 1}}, priv)
	if err != nil {
		t.Fatal(err)
	}
	if err := envelope.CheckTokenStored(tok, e, roots); err != nil {
		t.Fatalf("a good token: %v", err)
	}
	forged := *tok
	forged.Sig = strings.Repeat("0", 128)
	if err := envelope.CheckToken(&forged, e, roots); err == nil {
		t.Fatal("CheckToken accepted a bad signature")
	}
	other, _ := envelope.Sign(envelope.Draft{ThreadID: envelope.HashRef([]byte("n")), Verb: envelope.VerbAttest, Lamport: 3, Capability: ref,
		Payload: map[string]any{"epoch": 1}}, priv)
	if envelope.CodeOf(envelope.CheckTokenStored(tok, other, roots)) != envelope.CodeUnauthorized {
		t.Fatal("envelope.CheckTokenStored let a worker ATTEST")
	}
	if envelope.CodeOf(envelope.CheckTokenStored(tok, e, envelope.Roots{})) != envelope.CodeBadCapability {
		t.Fatal("envelope.CheckTokenStored ignored the roots")
	}
}
