package protocol

import (
	"encoding/hex"

	"github.com/canswarm/swarmhost/abi/envelope"
)

// retiredThread is what the core keeps of a thread a checkpoint retired
// (retireEnded): what Thread shows of it, for the life of the node, so in
// as little memory as it takes. A ref ("sha256:" and 64 hex digits) is 96
// bytes of heap as a string; here it is its 32-byte digest in refs, in a
// fixed order: the decision's proposal and DECIDE id, the commit, the
// result, the FINALIZE, then the attestations. A value that is not such a
// ref (none the core accepts, but the summary shows what it was given) is
// kept as it is in odd, by its position; empty marks positions with no
// value.
type retiredThread struct {
	phase      Phase
	epoch      uint64
	capability string // shared with every other retired summary (shareStrings)
	capsule    string // shared
	refusal    string
	abandoned  string
	envelopes  int // EnvelopesInTrail
	decision   *retiredDecision
	attests    int
	refs       []byte
	empty      uint64 // bit i: position i holds "" (positions past 63: in odd)
	odd        map[int]string
}

// retiredDecision is a decision less its two refs (in retiredThread.refs).
type retiredDecision struct {
	epoch, fence uint64
	workerPK     string   // shared
	verifiers    []string // each shared
}

// The positions of retiredThread.refs.
const (
	refProposal = iota
	refDecideID
	refCommit
	refResult
	refFinalize
	refAttestations // and on, one per attestation
)

const digestLen = (envelope.RefLen - len(envelope.RefPrefix)) / 2

// retire packs a thread's summary (Retired, its envelope list already
// dropped for EnvelopesInTrail).
func retire(info *ThreadInfo) *retiredThread {
	r := &retiredThread{phase: info.Phase, epoch: info.Epoch, capability: info.Capability, capsule: info.Capsule,
		refusal: info.Refusal, abandoned: info.Abandoned, envelopes: info.EnvelopesInTrail, attests: len(info.Attestation)}
	values := make([]string, 0, refAttestations+len(info.Attestation))
	if d := info.Decision; d != nil {
		r.decision = &retiredDecision{epoch: d.Epoch, fence: d.Fence, workerPK: d.WorkerPK, verifiers: d.Verifiers}
		values = append(values, d.Proposal, d.DecideID)
	} else {
		values = append(values, "", "")
	}
	values = append(values, info.Commit, info.Result, info.Finalize)
	values = append(values, info.Attestation...)
	r.refs = make([]byte, digestLen*len(values))
	for i, v := range values {
		switch {
		case envelope.IsRef(v):
			hex.Decode(r.refs[i*digestLen:(i+1)*digestLen], []byte(v[len(envelope.RefPrefix):]))
		case v == "" && i < 64:
			r.empty |= 1 << i
		default:
			if r.odd == nil {
				r.odd = map[int]string{}
			}
			r.odd[i] = v
		}
	}
	return r
}

// ref is the value at position i.
func (r *retiredThread) ref(i int) string {
	if v, ok := r.odd[i]; ok {
		return v
	}
	if i < 64 && r.empty&(1<<i) != 0 {
		return ""
	}
	return envelope.RefPrefix + hex.EncodeToString(r.refs[i*digestLen:(i+1)*digestLen])
}

// info is the summary Thread shows, as it was when the thread retired.
func (r *retiredThread) info(id string) ThreadInfo {
	info := ThreadInfo{ID: id, Phase: r.phase, Epoch: r.epoch, Capability: r.capability, Capsule: r.capsule,
		Commit: r.ref(refCommit), Result: r.ref(refResult), Finalize: r.ref(refFinalize), Refusal: r.refusal,
		Abandoned: r.abandoned, Retired: true, EnvelopesInTrail: r.envelopes}
	if d := r.decision; d != nil {
		info.Decision = &decision{Epoch: d.epoch, Proposal: r.ref(refProposal), WorkerPK: d.workerPK, Verifiers: d.verifiers,
			Fence: d.fence, DecideID: r.ref(refDecideID)}
	}
	if r.attests > 0 {
		info.Attestation = make([]string, r.attests)
		for i := range info.Attestation {
			info.Attestation[i] = r.ref(refAttestations + i)
		}
	}
	return info
}
