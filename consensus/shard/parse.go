package shard

import (
	"bytes"
	"encoding/json"
	"slices"

	"github.com/canswarm/swarmhost/abi/envelope"
)

// Parse decodes and checks a command. It accepts any JSON object with
// exactly the command's keys (whitespace and key order are free; RELEASE's
// max_epochs may be left out, meaning 0) and returns a *Decide, *Release,
// *Finalize or *GC whose Encode gives the canonical bytes. A failure is a
// *envelope.RejectError with code too_large (over MaxCommandBytes) or
// malformed.
func Parse(b []byte) (Command, error) {
	c, rej := parse(b)
	if rej != nil {
		return nil, rej
	}
	return c, nil
}

// The keys of each command besides "op", and which may be left out.
var (
	decideKeys   = []string{"bucket", "decide_id", "epoch", "need", "proposal", "verifiers", "worker_pk"}
	releaseKeys  = []string{"bucket", "epoch", "max_epochs", "need", "reason"}
	finalizeKeys = []string{"bucket", "commit", "epoch", "finalize_id", "need"}
	gcKeys       = []string{"before", "bucket", "needs"}
	optionalKeys = []string{"max_epochs", "before", "needs"}
)

func parse(b []byte) (Command, *envelope.RejectError) {
	if len(b) > MaxCommandBytes {
		return nil, envelope.Reject(envelope.CodeTooLarge, "", "command of %d bytes, at most %d", len(b), MaxCommandBytes)
	}
	var fields map[string]json.RawMessage
	if json.Unmarshal(b, &fields) != nil || fields == nil {
		return nil, malformed("", "not a JSON object")
	}
	r := reader{fields: fields}
	var c Command
	switch Op(r.str("op")) {
	case OpDecide:
		r.keys(decideKeys)
		c = &Decide{Need: r.str("need"), Bucket: r.bucket(), Epoch: r.uint("epoch"),
			Proposal: r.str("proposal"), WorkerPK: r.str("worker_pk"),
			Verifiers: r.strs("verifiers"), DecideID: r.str("decide_id")}
	case OpRelease:
		r.keys(releaseKeys)
		c = &Release{Need: r.str("need"), Bucket: r.bucket(), Epoch: r.uint("epoch"),
			Reason: r.str("reason"), MaxEpochs: r.uint("max_epochs")}
	case OpFinalize:
		r.keys(finalizeKeys)
		c = &Finalize{Need: r.str("need"), Bucket: r.bucket(), Epoch: r.uint("epoch"),
			Commit: r.str("commit"), FinalizeID: r.str("finalize_id")}
	case OpGC:
		r.keys(gcKeys)
		c = &GC{Bucket: r.bucket(), Needs: r.strs("needs"), Before: r.uint("before")}
	default:
		if r.err == nil {
			r.err = malformed("op", "not one of DECIDE, RELEASE, FINALIZE, GC")
		}
	}
	if r.err != nil {
		return nil, r.err
	}
	if err := c.check(); err != nil {
		return nil, err
	}
	return c, nil
}

// reader takes typed fields out of a decoded object, keeping the first
// error. A missing optional key reads as its zero value.
type reader struct {
	fields map[string]json.RawMessage
	err    *envelope.RejectError
}

// keys checks that the object has no key but "op" and the given ones, and
// every given key that is not optional.
func (r *reader) keys(allowed []string) {
	if r.err != nil {
		return
	}
	for k := range r.fields {
		if k != "op" && !slices.Contains(allowed, k) {
			r.err = malformed("", "unknown key") // the key itself is not echoed
			return
		}
	}
	for _, k := range allowed {
		if _, ok := r.fields[k]; !ok && !slices.Contains(optionalKeys, k) {
			r.err = malformed(k, "missing")
			return
		}
	}
}

// get decodes the value of key into v; JSON null is refused.
func (r *reader) get(key, want string, v any) {
	raw, ok := r.fields[key]
	if r.err != nil || !ok {
		return
	}
	if bytes.Equal(bytes.TrimSpace(raw), []byte("null")) || json.Unmarshal(raw, v) != nil {
		r.err = malformed(key, "not %s", want)
	}
}

func (r *reader) str(key string) (s string) {
	r.get(key, "a string", &s)
	return s
}

func (r *reader) uint(key string) (n uint64) {
	r.get(key, "an integer in 0..2^64-1", &n)
	return n
}

func (r *reader) strs(key string) (s []string) {
	r.get(key, "a list of strings", &s)
	return s
}

func (r *reader) bucket() uint8 {
	n := r.uint("bucket")
	if n > 255 && r.err == nil {
		r.err = malformed("bucket", "bucket %d is outside 0..255", n)
	}
	return uint8(n)
}
