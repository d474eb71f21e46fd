package compile

import (
	"slices"
	"testing"

	"github.com/canswarm/swarmhost/abi/envelope"
	"github.com/open-policy-agent/opa/v1/ast"
)

// TestAllowlist: the capabilities are exactly OPA's minus Forbidden and
// minus what OPA marks nondeterministic, and every Forbidden name is a
// builtin of this OPA (a rename in an OPA upgrade must not slip through).
func TestAllowlist(t *testing.T) {
	for name := range Forbidden {
		if _, ok := ast.BuiltinMap[name]; !ok {
			t.Errorf("Forbidden names %s, which this OPA does not have", name)
		}
	}
	have := map[string]bool{}
	for _, b := range Capabilities().Builtins {
		have[b.Name] = true
	}
	for _, b := range ast.CapabilitiesForThisVersion().Builtins {
		_, forbidden := Forbidden[b.Name]
		if b.Nondeterministic && !forbidden {
			t.Errorf("OPA marks %s nondeterministic: list it in Forbidden with its reason", b.Name)
		}
		if have[b.Name] == forbidden {
			t.Errorf("%s: allowed %v, forbidden %v", b.Name, have[b.Name], forbidden)
		}
	}
	for _, name := range []string{"print", "internal.print", "sprintf", "regex.match", "time.parse_rfc3339_ns", "io.jwt.decode"} {
		if !allowed(name) {
			t.Errorf("%s is not allowed", name)
		}
	}
}

func TestCapabilitiesIsACopy(t *testing.T) {
	ref := CapabilitiesRef()
	c := Capabilities()
	c.Builtins = c.Builtins[:1]
	c.AllowNet = nil
	again := Capabilities()
	if len(again.Builtins) < 100 || again.AllowNet == nil || len(again.AllowNet) != 0 {
		t.Errorf("Capabilities() shares state with its callers")
	}
	if !envelope.IsRef(ref) || CapabilitiesRef() != ref {
		t.Errorf("CapabilitiesRef %s", ref)
	}
	if again.WasmABIVersions != nil {
		t.Error("WasmABIVersions set: the capabilities would depend on OPA's build tags")
	}
	if !slices.Contains(again.Features, "rego_v1") {
		t.Errorf("features %v", again.Features)
	}
}
