package protocol

import "github.com/canswarm/swarmhost/host/protocol/jsontext"

// The payloads the core decodes, read flat (jsontext.DecodeFlat) when they
// are in the plain form a canonical payload of plain strings and integers
// takes, and by encoding/json, the reference, otherwise (payloadOf).
// Each type lists its members under their json keys;
// FuzzPayloadsAgreeWithJSON holds the two readers equal.

// flatPayload is a payload type with its members listed.
type flatPayload[T any] interface {
	*T
	fields() []jsontext.Field
}

func (p *needPayload) fields() []jsontext.Field {
	return []jsontext.Field{{Key: "capability", Str: &p.Capability}, {Key: "input", Raw: &p.Input}, {Key: "k", U64: &p.K},
		{Key: "n", U64: &p.N}, {Key: "bid_window_ms", U64: &p.BidWindowMS}, {Key: "lease_ms", U64: &p.LeaseMS},
		{Key: "max_epochs", U64: &p.MaxEpochs}, {Key: "gas_budget", U64: &p.GasBudget}, {Key: "deadline_ms", U64: &p.DeadlineMS},
		{Key: "nonce"}} // the nonce only makes the NEED's id unique
}

func (p *decidePayload) fields() []jsontext.Field {
	return []jsontext.Field{{Key: "epoch", U64: &p.Epoch}, {Key: "proposal", Str: &p.Proposal}, {Key: "worker_pk", Str: &p.WorkerPK},
		{Key: "verifiers", Strs: &p.Verifiers}, {Key: "considered", Strs: &p.Considered}, {Key: "fence", U64: &p.Fence}}
}

func (p *fencedPayload) fields() []jsontext.Field {
	return []jsontext.Field{{Key: "epoch", U64: &p.Epoch}, {Key: "fence", U64: &p.Fence}, {Key: "lease_ms", U64: &p.LeaseMS},
		{Key: "reason", Str: &p.Reason}}
}

func (p *releasePayload) fields() []jsontext.Field {
	return []jsontext.Field{{Key: "epoch", U64: &p.Epoch}, {Key: "reason", Str: &p.Reason}}
}

func (p *commitPayload) fields() []jsontext.Field {
	return []jsontext.Field{{Key: "epoch", U64: &p.Epoch}, {Key: "fence", U64: &p.Fence}, {Key: "result", Str: &p.Result},
		{Key: "telemetry", Raw: &p.Telemetry}}
}

func (p *attestPayload) fields() []jsontext.Field {
	return []jsontext.Field{{Key: "epoch", U64: &p.Epoch}, {Key: "commit", Str: &p.Commit}, {Key: "verdict", Str: &p.Verdict}}
}

func (p *finalizePayload) fields() []jsontext.Field {
	return []jsontext.Field{{Key: "epoch", U64: &p.Epoch}, {Key: "commit", Str: &p.Commit}, {Key: "result", Str: &p.Result},
		{Key: "attestations", Strs: &p.Attestations}}
}

func (p *challengePayload) fields() []jsontext.Field {
	return []jsontext.Field{{Key: "target", Str: &p.Target}, {Key: "claimed_digest", Str: &p.ClaimedDigest}}
}

func (p *invalidatePayload) fields() []jsontext.Field {
	return []jsontext.Field{{Key: "target", Str: &p.Target}, {Key: "reason", Str: &p.Reason},
		{Key: "recomputed_digest", Str: &p.RecomputedDigest}}
}

func (p *reconcilePayload) fields() []jsontext.Field {
	return []jsontext.Field{{Key: "plan_digest", Str: &p.PlanDigest}, {Key: "have", Strs: &p.Have}, {Key: "ops", Raw: &p.Ops}}
}

func (p *checkpointPayload) fields() []jsontext.Field {
	return []jsontext.Field{{Key: "upto_lamport", U64: &p.UptoLamport}, {Key: "audit_root", Str: &p.AuditRoot},
		{Key: "plan_digest", Str: &p.PlanDigest}, {Key: "decisions", Raw: &p.Decisions}}
}
