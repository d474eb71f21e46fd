package compile

import (
	"encoding/json"
	"fmt"
	"slices"
	"sync"

	"github.com/canswarm/swarmhost/abi/envelope"
	"github.com/gowebpki/jcs"
	"github.com/open-policy-agent/opa/v1/ast"
)

// Forbidden maps each builtin a capsule may not call to the reason, worded to
// complete "<name> is not allowed: <reason>". Every other builtin of this OPA
// version is allowed: the capabilities a capsule is compiled with are OPA's
// own for this version minus these names.
//
// The rule is determinism (PROTOCOL.md section 7): a builtin is refused when
// its result can depend on anything but its arguments, that is on the clock,
// randomness, the network, the host's runtime or environment, the host's
// local time zone or its copy of the time zone database. OPA marks most of
// these "nondeterministic"; the rest were found by reading v1/topdown:
//
//   - crypto.x509.parse_and_verify_certificates(_with_options) check validity
//     against the clock (the _with_options form unless CurrentTime is given,
//     which cannot be known at compile time);
//   - time.date, time.clock, time.weekday, time.format, time.add_date and
//     time.diff take an optional time zone: "Local" is the host's zone and a
//     named zone is read from the host's time zone database, whose version
//     differs between machines. time.parse_ns, time.parse_rfc3339_ns and
//     time.parse_duration_ns take no zone and stay allowed; but OPA's
//     time.parse_ns gives a zone abbreviation the offset the host's local
//     zone has for it, so the host serves it read in UTC (host/policy).
//
// trace is refused too: it only writes to the evaluation trace, which a
// capsule has no place for. print is allowed and costs nothing: a capsule is
// compiled without print statements, so OPA erases every print call.
var Forbidden = map[string]string{
	// Marked nondeterministic by OPA.
	"http.send":              "it makes network requests",
	"net.lookup_ip_addr":     "it makes DNS lookups",
	"opa.runtime":            "it reads the host's runtime environment",
	"rand.intn":              "it draws random numbers",
	"time.now_ns":            "it reads the clock",
	"uuid.rfc4122":           "it draws random numbers",
	"io.jwt.decode_verify":   "it reads the clock",
	"io.jwt.encode_sign":     "it signs with random nonces",
	"io.jwt.encode_sign_raw": "it signs with random nonces",
	"json.match_schema":      "it may fetch remote schema references",
	"json.verify_schema":     "it may fetch remote schema references",
	// Found by reading OPA's implementations.
	"crypto.x509.parse_and_verify_certificates":              "it reads the clock",
	"crypto.x509.parse_and_verify_certificates_with_options": "it reads the clock unless CurrentTime is given",
	"time.date":     "its time zone argument reads the host's zone or time zone database",
	"time.clock":    "its time zone argument reads the host's zone or time zone database",
	"time.weekday":  "its time zone argument reads the host's zone or time zone database",
	"time.format":   "its time zone argument reads the host's zone or time zone database",
	"time.add_date": "its time zone argument reads the host's zone or time zone database",
	"time.diff":     "its time zone argument reads the host's zone or time zone database",
	// Debug output.
	"trace": "it writes to the evaluation trace, which a capsule does not have",
}

var capabilitiesOnce = sync.OnceValues(func() (*ast.Capabilities, string) {
	caps := ast.CapabilitiesForThisVersion(ast.CapabilitiesRegoVersion(ast.RegoV1))
	caps.Builtins = slices.DeleteFunc(caps.Builtins, func(b *ast.Builtin) bool {
		_, bad := Forbidden[b.Name]
		return bad || b.Nondeterministic
	})
	// OPA fills WasmABIVersions from a build tag (opa_wasm); nil lets the
	// wasm compiler build for its own ABI whatever the tags, and keeps the
	// capabilities (and their hash) the same in every build of swarmhost.
	caps.WasmABIVersions = nil
	// Empty, not nil: no network access at compile time either.
	caps.AllowNet = []string{}
	text, err := json.Marshal(caps)
	if err != nil {
		panic(fmt.Sprintf("compile: encode capabilities: %v", err))
	}
	canon, err := jcs.Transform(text)
	if err != nil {
		panic(fmt.Sprintf("compile: canonicalize capabilities: %v", err))
	}
	return caps, envelope.HashRef(canon)
})

// Capabilities returns the OPA capabilities every capsule is compiled with:
// this OPA version's, minus the Forbidden builtins (and any builtin OPA marks
// nondeterministic), without network access. Each call returns a copy.
func Capabilities() *ast.Capabilities {
	caps, _ := capabilitiesOnce()
	c := *caps
	c.Builtins = slices.Clone(caps.Builtins)
	c.FutureKeywords = slices.Clone(caps.FutureKeywords)
	c.Features = slices.Clone(caps.Features)
	c.AllowNet = slices.Clone(caps.AllowNet)
	return &c
}

// Allowed reports whether a capsule may call the builtin name: an
// evaluator serves no other, whatever a capsule's manifest says.
func Allowed(name string) bool { return allowed(name) }

// allowed reports whether a capsule may call the builtin name.
func allowed(name string) bool {
	_, ok := allowedSet()[name]
	return ok
}

var allowedSet = sync.OnceValue(func() map[string]struct{} {
	caps, _ := capabilitiesOnce()
	set := make(map[string]struct{}, len(caps.Builtins))
	for _, b := range caps.Builtins {
		set[b.Name] = struct{}{}
	}
	return set
})

// CapabilitiesRef is the ref of the JCS form of Capabilities(), recorded in
// each capsule's manifest as "capabilities".
func CapabilitiesRef() string {
	_, ref := capabilitiesOnce()
	return ref
}
