package envelope

import (
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"unicode/utf8"

	"github.com/gowebpki/jcs"
)

// Role is a principal's role in the swarm (PROTOCOL.md section 4).
type Role string

// The roles of PROTOCOL.md section 4.
const (
	RoleClient   Role = "client"
	RolePlanner  Role = "planner"
	RoleWorker   Role = "worker"
	RoleVerifier Role = "verifier"
	RoleHost     Role = "host"
)

// Roles lists every role.
var Roles = []Role{RoleClient, RolePlanner, RoleWorker, RoleVerifier, RoleHost}

// roleVerbs is the table of PROTOCOL.md section 4: which role may send which verb.
var roleVerbs = map[Role][]Verb{
	RoleClient:   {VerbNeed, VerbChallenge},
	RolePlanner:  {VerbPropose, VerbUpdatePlan},
	RoleWorker:   {VerbPropose, VerbClaim, VerbHeartbeat, VerbYield, VerbCommit, VerbUpdatePlan},
	RoleVerifier: {VerbAttest, VerbChallenge},
	RoleHost:     {VerbDecide, VerbRelease, VerbFinalize, VerbInvalidate, VerbReconcile, VerbCheckpoint, VerbUpdatePlan},
}

// Known reports whether r is a role of the protocol.
func (r Role) Known() bool { _, ok := roleVerbs[r]; return ok }

// MaySend reports whether role r may send verb v.
func (r Role) MaySend(v Verb) bool { return slices.Contains(roleVerbs[r], v) }

// Token is a capability token (PROTOCOL.md section 4). It lives in the CAS
// as its JCS form; its ref is the hash of that form, sig included.
type Token struct {
	V            int64    `json:"v"`
	IssuerPK     string   `json:"issuer_pk"`
	SubjectPK    string   `json:"subject_pk"`
	Roles        []Role   `json:"roles"`
	Capabilities []string `json:"capabilities"`
	NotAfter     uint64   `json:"not_after"` // a Lamport time; 0 is no limit
	Sig          string   `json:"sig"`
}

const capabilityDomain = "CANSWARM-CAPABILITY-V1\n"

// IssueToken signs a token granting subject the roles and task capabilities,
// valid up to the Lamport time notAfter (0: no limit). Roles and capabilities
// are sorted, so the same grant always gives the same token and ref.
func IssueToken(issuer ed25519.PrivateKey, subject ed25519.PublicKey, roles []Role, capabilities []string, notAfter uint64) (*Token, error) {
	if len(issuer) != ed25519.PrivateKeySize || len(subject) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("issue capability token: bad key sizes (issuer %d, subject %d bytes)", len(issuer), len(subject))
	}
	if notAfter > MaxSafeInteger {
		return nil, fmt.Errorf("issue capability token: not_after %d is beyond 2^53", notAfter)
	}
	t := &Token{
		V:            1,
		IssuerPK:     EncodePublicKey(issuer.Public().(ed25519.PublicKey)),
		SubjectPK:    EncodePublicKey(subject),
		Roles:        slices.Clone(roles),
		Capabilities: slices.Clone(capabilities),
		NotAfter:     notAfter,
	}
	if t.Roles == nil {
		t.Roles = []Role{}
	}
	if t.Capabilities == nil {
		t.Capabilities = []string{}
	}
	for _, r := range t.Roles {
		if !r.Known() {
			return nil, fmt.Errorf("issue capability token: unknown role %q", r)
		}
	}
	sort.Slice(t.Roles, func(i, j int) bool { return t.Roles[i] < t.Roles[j] })
	sort.Strings(t.Capabilities)
	t.Roles = slices.Compact(t.Roles)
	t.Capabilities = slices.Compact(t.Capabilities)
	hash, err := t.Hash()
	if err != nil {
		return nil, err
	}
	t.Sig = hex.EncodeToString(ed25519.Sign(issuer, []byte(capabilityDomain+hash)))
	return t, nil
}

// Hash returns "sha256:" of the JCS of the token without sig: what the
// issuer signs.
func (t *Token) Hash() (string, error) {
	unsigned := *t
	unsigned.Sig = ""
	b, err := canonicalToken(&unsigned, false)
	if err != nil {
		return "", err
	}
	return HashRef(b), nil
}

// Canonical returns the token's JCS form, sig included: the bytes stored in
// the CAS.
func (t *Token) Canonical() ([]byte, error) { return canonicalToken(t, true) }

// Ref returns the token's content reference: the hash of its JCS form.
func (t *Token) Ref() (string, error) {
	b, err := t.Canonical()
	if err != nil {
		return "", err
	}
	return HashRef(b), nil
}

// canonicalToken writes the token's JCS form (without sig: what the issuer
// signs). Its members are strings, lists of strings and two integers, so it
// is written directly when every string is valid UTF-8, the lists are not
// nil (json.Marshal writes null) and the integers are safe; anything else
// goes through encoding/json and jcs, the reference (canonicalTokenJSON,
// which a fuzz test holds equal).
func canonicalToken(t *Token, withSig bool) ([]byte, error) {
	plain := t.V >= -MaxSafeInteger && t.V <= MaxSafeInteger && t.NotAfter <= MaxSafeInteger &&
		t.Roles != nil && t.Capabilities != nil &&
		utf8.ValidString(t.IssuerPK) && utf8.ValidString(t.SubjectPK) && (!withSig || utf8.ValidString(t.Sig))
	for _, c := range t.Capabilities {
		plain = plain && utf8.ValidString(c)
	}
	for _, r := range t.Roles {
		plain = plain && utf8.ValidString(string(r))
	}
	if !plain {
		return canonicalTokenJSON(t, withSig)
	}
	b := make([]byte, 0, 160+len(t.IssuerPK)+len(t.SubjectPK)+len(t.Sig)+16*(len(t.Roles)+len(t.Capabilities)))
	b = appendStringList(append(b, `{"capabilities":`...), t.Capabilities)
	b = appendJCSString(append(b, `,"issuer_pk":`...), t.IssuerPK)
	b = strconv.AppendUint(append(b, `,"not_after":`...), t.NotAfter, 10)
	b = append(b, `,"roles":[`...)
	for i, r := range t.Roles {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJCSString(b, string(r))
	}
	b = append(b, ']')
	if withSig {
		b = appendJCSString(append(b, `,"sig":`...), t.Sig)
	}
	b = appendJCSString(append(b, `,"subject_pk":`...), t.SubjectPK)
	b = strconv.AppendInt(append(b, `,"v":`...), t.V, 10)
	return append(b, '}'), nil
}

// canonicalTokenJSON is canonicalToken through encoding/json and jcs.
func canonicalTokenJSON(t *Token, withSig bool) ([]byte, error) {
	m := map[string]any{
		"v": t.V, "issuer_pk": t.IssuerPK, "subject_pk": t.SubjectPK,
		"roles": t.Roles, "capabilities": t.Capabilities, "not_after": t.NotAfter,
	}
	if withSig {
		m["sig"] = t.Sig
	}
	text, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("encode capability token: %w", err)
	}
	return jcs.Transform(text)
}

var tokenFields = []string{"capabilities", "issuer_pk", "not_after", "roles", "sig", "subject_pk", "v"}

// ParseToken reads a token from its JSON text (normally the CAS blob). A
// token that is not a well-formed version-1 token is a bad_capability.
func ParseToken(text []byte) (*Token, error) { return parseToken(text, true) }

// parseToken is ParseToken; scan false takes the general path for every
// text (the reference the fuzz test holds the scan to).
func parseToken(text []byte, scan bool) (*Token, error) {
	// A token as the CAS holds it is canonical with exactly its fields,
	// which one scan confirms; any other text is canonicalized and its
	// members counted first.
	canon := text
	var values [7][]byte
	if !scan || !ScanCanonicalObject(text, tokenFields, values[:]) {
		var err error
		if canon, err = jcs.Transform(text); err != nil {
			return nil, Reject(CodeBadCapability, "", "token is not canonicalizable JSON: %v", err)
		}
		var members map[string]json.RawMessage
		if err := json.Unmarshal(canon, &members); err != nil {
			return nil, Reject(CodeBadCapability, "", "token is not a JSON object: %v", err)
		}
		for _, f := range tokenFields {
			if _, ok := members[f]; !ok {
				return nil, Reject(CodeBadCapability, "token."+f, "missing")
			}
		}
		if len(members) != len(tokenFields) {
			return nil, Reject(CodeBadCapability, "", "token has fields beyond %v", tokenFields)
		}
	}
	var t Token
	if err := json.Unmarshal(canon, &t); err != nil {
		return nil, Reject(CodeBadCapability, "", "token fields have the wrong types: %v", err)
	}
	if t.V != 1 {
		return nil, Reject(CodeBadCapability, "token.v", "version %d, want 1", t.V)
	}
	if !IsPublicKey(t.IssuerPK) || !IsPublicKey(t.SubjectPK) {
		return nil, Reject(CodeBadCapability, "", "issuer_pk and subject_pk must be 64 lowercase hex digits")
	}
	if t.NotAfter > MaxSafeInteger {
		return nil, Reject(CodeBadCapability, "token.not_after", "beyond 2^53")
	}
	return &t, nil
}

// Roots is the set of trusted issuer keys (the swarm's root keys), each 64
// lowercase hex digits.
type Roots []string

// Trusts reports whether pk is one of the roots.
func (r Roots) Trusts(pk string) bool { return slices.Contains(r, pk) }

// CheckToken decides whether tok, found in the CAS at the envelope's
// capability ref, authorises e. It returns nil, a bad_capability (no token,
// a token at another ref, an untrusted issuer, a bad issuer signature, a
// subject other than the sender, a token expired at e's Lamport time) or an
// unauthorized (no granted role may send e's verb).
func CheckToken(tok *Token, e *Envelope, roots Roots) error {
	if err := tok.checkIssued(e, roots); err != nil {
		return err
	}
	if err := tok.verifySignature(); err != nil {
		return err
	}
	return tok.checkFor(e)
}

// CheckTokenStored is CheckToken for a token the caller keeps under its
// ref (e.Capability) after CheckToken passed for it: the issuer is still a
// trusted root and the token grants what e does (subject, expiry, role);
// its ref and signature are not computed again.
func CheckTokenStored(tok *Token, e *Envelope, roots Roots) error {
	if !roots.Trusts(tok.IssuerPK) {
		return Reject(CodeBadCapability, "capability", "issuer %s is not a trusted root", tok.IssuerPK)
	}
	return tok.checkFor(e)
}

// checkIssued is the part of CheckToken before the signature: the envelope
// names a token, this one, issued by a trusted root.
func (tok *Token) checkIssued(e *Envelope, roots Roots) error {
	if e.Capability == "" {
		return Reject(CodeBadCapability, "capability", "no capability token, and a %s needs one", e.Verb)
	}
	ref, err := tok.Ref()
	if err != nil {
		return Reject(CodeBadCapability, "capability", "%v", err)
	}
	if ref != e.Capability {
		return Reject(CodeBadCapability, "capability", "envelope names %s but the token's ref is %s", e.Capability, ref)
	}
	if !roots.Trusts(tok.IssuerPK) {
		return Reject(CodeBadCapability, "capability", "issuer %s is not a trusted root", tok.IssuerPK)
	}
	return nil
}

// checkFor is the part of CheckToken about the envelope: subject, expiry,
// role.
func (tok *Token) checkFor(e *Envelope) error {
	if tok.SubjectPK != e.SenderPK {
		return Reject(CodeBadCapability, "capability", "token is for %s, envelope sender is %s", tok.SubjectPK, e.SenderPK)
	}
	if tok.NotAfter != 0 && e.Lamport > tok.NotAfter {
		return Reject(CodeBadCapability, "capability", "token expired at Lamport %d, envelope is at %d", tok.NotAfter, e.Lamport)
	}
	for _, r := range tok.Roles {
		if r.MaySend(e.Verb) {
			return nil
		}
	}
	return Reject(CodeUnauthorized, "verb", "roles %v may not send %s", tok.Roles, e.Verb)
}

// HasCapability reports whether the token grants the task kind.
func (t *Token) HasCapability(kind string) bool { return slices.Contains(t.Capabilities, kind) }

// HasRole reports whether the token grants the role.
func (t *Token) HasRole(r Role) bool { return slices.Contains(t.Roles, r) }

// VerifySignature checks the issuer's signature over the token (what
// CheckToken does first, before the roots, subject, expiry and role).
func (t *Token) VerifySignature() error { return t.verifySignature() }

func (t *Token) verifySignature() error {
	pk, err := DecodePublicKey(t.IssuerPK)
	if err != nil {
		return Reject(CodeBadCapability, "capability", "issuer_pk: %v", err)
	}
	sig, err := hex.DecodeString(t.Sig)
	if err != nil || len(sig) != ed25519.SignatureSize || hex.EncodeToString(sig) != t.Sig {
		return Reject(CodeBadCapability, "capability", "token sig must be %d lowercase hex digits", 2*ed25519.SignatureSize)
	}
	hash, err := t.Hash()
	if err != nil {
		return Reject(CodeBadCapability, "capability", "%v", err)
	}
	if !ed25519.Verify(pk, []byte(capabilityDomain+hash), sig) {
		return Reject(CodeBadCapability, "capability", "token signature does not verify under issuer %s", t.IssuerPK)
	}
	return nil
}
