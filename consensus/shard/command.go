package shard

import (
	"bytes"
	"encoding/json"
	"slices"

	"github.com/canswarm/swarmhost/abi/envelope"
)

// Op names a command.
type Op string

// The commands a shard applies.
const (
	OpDecide   Op = "DECIDE"
	OpRelease  Op = "RELEASE"
	OpFinalize Op = "FINALIZE"
	OpGC       Op = "GC"
)

// Limits on a command. Integers follow PROTOCOL.md section 1 (at most 2^53).
const (
	MaxCommandBytes = envelope.MaxEnvelopeBytes // larger commands are too_large
	MaxVerifiers    = 64                        // verifiers named by one DECIDE
	MaxGCNeeds      = 1024                      // NEEDs named by one GC
	MaxInt          = 1 << 53                   // largest epoch, max_epochs or GC before
)

// The RELEASE reasons of PROTOCOL.md section 5.
const (
	ReasonExpired     = "expired"
	ReasonYielded     = "yielded"
	ReasonInvalidated = "invalidated"
	ReasonNoBids      = "no_bids"
)

var releaseReasons = []string{ReasonExpired, ReasonYielded, ReasonInvalidated, ReasonNoBids}

// Command is one of *Decide, *Release, *Finalize or *GC.
type Command interface {
	// Op names the command.
	Op() Op
	// Encode returns the canonical bytes of the command: JSON with sorted
	// keys and no whitespace (RFC 8785 for the values a valid command holds).
	Encode() []byte
	check() *envelope.RejectError
}

// Decide fixes the decision of one epoch of a NEED.
type Decide struct {
	Need      string   // the NEED id, "sha256:..."
	Bucket    uint8    // first byte of the SHA-256 in Need
	Epoch     uint64   // the epoch decided, from 1
	Proposal  string   // ref of the chosen PROPOSE envelope
	WorkerPK  string   // the chosen worker's public key
	Verifiers []string // the n verifiers, in the DECIDE's order; not the worker
	DecideID  string   // the DECIDE envelope id, or a content hash
}

// Release gives an epoch of a NEED up: the NEED moves to epoch+1, or is
// abandoned when MaxEpochs (0: no limit) is used up.
type Release struct {
	Need      string
	Bucket    uint8
	Epoch     uint64
	Reason    string // expired, yielded, invalidated or no_bids
	MaxEpochs uint64 // the NEED's max_epochs; 0 for no limit
}

// Finalize closes a NEED on the COMMIT of its decided current epoch.
type Finalize struct {
	Need       string
	Bucket     uint8
	Epoch      uint64
	Commit     string // ref of the COMMIT envelope
	FinalizeID string // the FINALIZE envelope id, or a content hash
}

// GC drops finished (final or abandoned) NEEDs of one bucket: either those
// listed in Needs, or those finished at a log index below Before. Exactly one
// of the two is set.
type GC struct {
	Bucket uint8
	Needs  []string
	Before uint64
}

func (*Decide) Op() Op   { return OpDecide }
func (*Release) Op() Op  { return OpRelease }
func (*Finalize) Op() Op { return OpFinalize }
func (*GC) Op() Op       { return OpGC }

// The wire forms: fields in sorted key order, so that encoding/json writes
// canonical JSON.
type decideWire struct {
	Bucket    uint8    `json:"bucket"`
	DecideID  string   `json:"decide_id"`
	Epoch     uint64   `json:"epoch"`
	Need      string   `json:"need"`
	Op        Op       `json:"op"`
	Proposal  string   `json:"proposal"`
	Verifiers []string `json:"verifiers"`
	WorkerPK  string   `json:"worker_pk"`
}

type releaseWire struct {
	Bucket    uint8  `json:"bucket"`
	Epoch     uint64 `json:"epoch"`
	MaxEpochs uint64 `json:"max_epochs"`
	Need      string `json:"need"`
	Op        Op     `json:"op"`
	Reason    string `json:"reason"`
}

type finalizeWire struct {
	Bucket     uint8  `json:"bucket"`
	Commit     string `json:"commit"`
	Epoch      uint64 `json:"epoch"`
	FinalizeID string `json:"finalize_id"`
	Need       string `json:"need"`
	Op         Op     `json:"op"`
}

type gcWire struct {
	Before uint64   `json:"before,omitempty"`
	Bucket uint8    `json:"bucket"`
	Needs  []string `json:"needs,omitempty"`
	Op     Op       `json:"op"`
}

func (d *Decide) Encode() []byte {
	v := d.Verifiers
	if v == nil {
		v = []string{}
	}
	return marshal(decideWire{d.Bucket, d.DecideID, d.Epoch, d.Need, OpDecide, d.Proposal, v, d.WorkerPK})
}

func (r *Release) Encode() []byte {
	return marshal(releaseWire{r.Bucket, r.Epoch, r.MaxEpochs, r.Need, OpRelease, r.Reason})
}

func (f *Finalize) Encode() []byte {
	return marshal(finalizeWire{f.Bucket, f.Commit, f.Epoch, f.FinalizeID, f.Need, OpFinalize})
}

func (g *GC) Encode() []byte {
	return marshal(gcWire{g.Before, g.Bucket, g.Needs, OpGC})
}

// marshal encodes v without HTML escaping and without the trailing newline.
// The types given to it cannot fail to encode.
func marshal(v any) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		panic("shard: encoding a fixed type failed: " + err.Error())
	}
	return bytes.TrimSuffix(b.Bytes(), []byte{'\n'})
}

// BucketOf returns the bucket of a NEED id: the first byte of its SHA-256.
// ok is false when need is not a well-formed ref.
func BucketOf(need string) (bucket uint8, ok bool) {
	if !envelope.IsRef(need) {
		return 0, false
	}
	h := need[len(envelope.RefPrefix):]
	return unhex(h[0])<<4 | unhex(h[1]), true
}

func unhex(c byte) uint8 {
	if c <= '9' {
		return c - '0'
	}
	return c - 'a' + 10
}

func malformed(field, detail string, args ...any) *envelope.RejectError {
	return envelope.Reject(envelope.CodeMalformed, field, detail, args...)
}

func checkNeed(need string, bucket uint8) *envelope.RejectError {
	b, ok := BucketOf(need)
	if !ok {
		return malformed("need", "not a ref (sha256: and 64 lowercase hex digits)")
	}
	if b != bucket {
		return malformed("bucket", "bucket %d does not match the NEED id, whose bucket is %d", bucket, b)
	}
	return nil
}

func checkEpoch(e uint64) *envelope.RejectError {
	if e < 1 || e > MaxInt {
		return malformed("epoch", "epoch %d is outside 1..2^53", e)
	}
	return nil
}

func (d *Decide) check() *envelope.RejectError {
	if err := checkNeed(d.Need, d.Bucket); err != nil {
		return err
	}
	if err := checkEpoch(d.Epoch); err != nil {
		return err
	}
	switch {
	case !envelope.IsRef(d.Proposal):
		return malformed("proposal", "not a ref")
	case !envelope.IsPublicKey(d.WorkerPK):
		return malformed("worker_pk", "not a public key (64 lowercase hex digits)")
	case len(d.Verifiers) < 1 || len(d.Verifiers) > MaxVerifiers:
		return malformed("verifiers", "%d verifiers, want 1..%d", len(d.Verifiers), MaxVerifiers)
	case !envelope.IsRef(d.DecideID):
		return malformed("decide_id", "not a ref")
	}
	for i, v := range d.Verifiers {
		switch {
		case !envelope.IsPublicKey(v):
			return malformed("verifiers", "verifier %d is not a public key", i)
		case v == d.WorkerPK:
			return malformed("verifiers", "verifier %d is the worker", i)
		case slices.Contains(d.Verifiers[:i], v):
			return malformed("verifiers", "verifier %d is named twice", i)
		}
	}
	return nil
}

func (r *Release) check() *envelope.RejectError {
	if err := checkNeed(r.Need, r.Bucket); err != nil {
		return err
	}
	if err := checkEpoch(r.Epoch); err != nil {
		return err
	}
	if !slices.Contains(releaseReasons, r.Reason) {
		return malformed("reason", "not one of expired, yielded, invalidated, no_bids")
	}
	if r.MaxEpochs > MaxInt {
		return malformed("max_epochs", "above 2^53")
	}
	return nil
}

func (f *Finalize) check() *envelope.RejectError {
	if err := checkNeed(f.Need, f.Bucket); err != nil {
		return err
	}
	if err := checkEpoch(f.Epoch); err != nil {
		return err
	}
	if !envelope.IsRef(f.Commit) {
		return malformed("commit", "not a ref")
	}
	if !envelope.IsRef(f.FinalizeID) {
		return malformed("finalize_id", "not a ref")
	}
	return nil
}

func (g *GC) check() *envelope.RejectError {
	switch {
	case (g.Before == 0) == (len(g.Needs) == 0):
		return malformed("needs", "exactly one of needs and before is required")
	case g.Before > MaxInt:
		return malformed("before", "above 2^53")
	case len(g.Needs) > MaxGCNeeds:
		return malformed("needs", "%d NEEDs, at most %d", len(g.Needs), MaxGCNeeds)
	}
	for i, n := range g.Needs {
		if err := checkNeed(n, g.Bucket); err != nil {
			return malformed("needs", "NEED %d: %s", i, err.Detail)
		}
		if slices.Contains(g.Needs[:i], n) {
			return malformed("needs", "NEED %d is named twice", i)
		}
	}
	return nil
}

// MarshalJSON writes a command in its wire form (Encode), so that records
// and answers holding commands print as the commands themselves.
func (d *Decide) MarshalJSON() ([]byte, error)   { return d.Encode(), nil }
func (r *Release) MarshalJSON() ([]byte, error)  { return r.Encode(), nil }
func (f *Finalize) MarshalJSON() ([]byte, error) { return f.Encode(), nil }
func (g *GC) MarshalJSON() ([]byte, error)       { return g.Encode(), nil }

// UnmarshalJSON reads a command written by MarshalJSON (strictly, as Parse).
func (d *Decide) UnmarshalJSON(b []byte) error   { return unmarshalInto(b, d) }
func (r *Release) UnmarshalJSON(b []byte) error  { return unmarshalInto(b, r) }
func (f *Finalize) UnmarshalJSON(b []byte) error { return unmarshalInto(b, f) }
func (g *GC) UnmarshalJSON(b []byte) error       { return unmarshalInto(b, g) }

func unmarshalInto[T any, P interface {
	*T
	Command
}](b []byte, dst P) error {
	c, err := Parse(b)
	if err != nil {
		return err
	}
	src, ok := c.(P)
	if !ok {
		return envelope.Reject(envelope.CodeMalformed, "op", "a %s command where a %s was expected", c.Op(), dst.Op())
	}
	*dst = *src
	return nil
}
