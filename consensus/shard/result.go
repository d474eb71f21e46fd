package shard

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"

	"github.com/canswarm/swarmhost/abi/envelope"
)

// Result is a shard's answer to one command. Its encoding (Encode) is
// canonical JSON with every field present, so replicas answer byte for byte
// the same.
//
// For an accepted DECIDE, RELEASE or FINALIZE the fields describe what the
// command did and never change afterwards, so a repeat gets the same bytes:
// Epoch is the epoch the command named, Fence and DecideID are those of that
// epoch's accepted DECIDE (0 and "" for a RELEASE of an undecided epoch),
// NextEpoch is the epoch a RELEASE opened and Abandoned says it opened none.
//
// For a rejection, Reason holds the code, Detail says why in words, and
// Epoch, Fence and DecideID describe the NEED as it stands: its current
// epoch and that epoch's live decision, if any (epoch 1 for a NEED not yet
// seen, all zero for a collected NEED or an unparsed command).
type Result struct {
	Abandoned bool          `json:"abandoned"`
	Accepted  bool          `json:"accepted"`
	DecideID  string        `json:"decide_id"`
	Detail    string        `json:"detail"`
	Dropped   uint64        `json:"dropped"` // GC: NEEDs collected
	Epoch     uint64        `json:"epoch"`
	Fence     uint64        `json:"fence"`
	Need      string        `json:"need"`
	NextEpoch uint64        `json:"next_epoch"`
	Op        Op            `json:"op"`     // "" when the command did not parse
	Reason    envelope.Code `json:"reason"` // "" when accepted
}

// Encode returns the canonical bytes of r (sorted keys, no whitespace).
func (r Result) Encode() []byte { return marshal(r) }

// Err returns nil for an accepted result, else a *envelope.RejectError with
// the result's code and detail.
func (r Result) Err() error {
	if r.Accepted {
		return nil
	}
	return envelope.Reject(r.Reason, "", "%s", r.Detail)
}

// DecodeResult parses bytes written by Result.Encode. It refuses unknown
// keys and trailing data.
func DecodeResult(b []byte) (Result, error) {
	var r Result
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		return Result{}, fmt.Errorf("shard: decoding a result: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return Result{}, fmt.Errorf("shard: decoding a result: trailing data")
	}
	return r, nil
}
