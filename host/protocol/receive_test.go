package protocol_test

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/canswarm/swarmhost/abi/envelope"
	"github.com/canswarm/swarmhost/host/protocol"
)

// A shell that passes envelope.Verify's envelope along with its error must
// still get the rejection: the core judges Err first, whatever Env holds.
func TestReceivedErrWins(t *testing.T) {
	h := newHarness(t)
	h.pos = "TestReceivedErrWins"
	h.run("need id=n1 hold")
	good := h.envs["n1"]
	var m map[string]json.RawMessage
	if err := json.Unmarshal(good.raw, &m); err != nil {
		t.Fatal(err)
	}
	m["sig"], _ = json.Marshal(fmt.Sprintf("%x", ed25519Sign(h.person("eve"), envelope.SignedMessage(good.env.ID))))
	raw, _ := json.Marshal(m)
	e, err := envelope.Verify(raw)
	if e == nil || envelope.CodeOf(err) != envelope.CodeBadSignature {
		t.Fatalf("Verify = %v, %v; want the envelope and bad_signature", e, err)
	}
	v := h.core.Step(&protocol.Received{At: h.now, Raw: raw, Env: e, Err: err, Token: h.cas[e.Capability]})
	if v.Accepted || v.Code != envelope.CodeBadSignature {
		t.Fatalf("verdict %+v, want rejected bad_signature", v)
	}
	if _, ok := h.core.Thread(good.env.ID); ok {
		t.Fatal("a rejected NEED opened a thread")
	}
	if v := h.stepRaw(good.raw); !v.Accepted || v.Duplicate {
		t.Fatalf("the genuine NEED: verdict %+v, want accepted", v)
	}
}
