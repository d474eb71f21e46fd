package abi

import "encoding/json"

// Version is the ABI version an agent's manifest states ("abi": 1).
const Version = 1

// HostModule is the import module of the native host functions.
const HostModule = "swarm_v1"

// Exports every native agent provides.
const (
	ExportMemory     = "memory"
	ExportAlloc      = "swarm_alloc"
	ExportDescribe   = "swarm_describe"
	ExportHandle     = "swarm_handle"
	ExportInitialize = "_initialize" // optional, wasip1 reactors
)

// Host functions in module swarm_v1.
const (
	HostCASGet     = "cas_get"
	HostCASPut     = "cas_put"
	HostLog        = "log"
	HostPolicyEval = "policy_eval"
	HostPlanQuery  = "plan_query"
)

// Negative error codes returned by host functions.
const (
	ErrNotFound    = -1
	ErrBadArgument = -2 // pointer out of bounds, bad JSON
	ErrDenied      = -3
	ErrTooLarge    = -4
	// ErrUnavailable: the host function exists but has nothing to serve yet
	// (policy_eval before capsules, plan_query before the plan).
	ErrUnavailable = -5
)

// Log levels of the log host function.
const (
	LogDebug = 0
	LogInfo  = 1
	LogWarn  = 2
	LogError = 3
)

// Manifest is what swarm_describe returns.
type Manifest struct {
	Name         string   `json:"name"`
	Version      string   `json:"version"`
	ABI          int      `json:"abi"`
	Roles        []string `json:"roles"`
	Capabilities []string `json:"capabilities"`
	// Verbs are the verbs the agent wants delivered.
	Verbs []string `json:"verbs"`
}

// AgentInput is what swarm_handle receives: one envelope (its wire form,
// as a JSON object), the agent's own public key, and the core's view of the
// thread.
type AgentInput struct {
	Envelope json.RawMessage `json:"envelope"`
	SelfPK   string          `json:"self_pk"`
	Thread   ThreadView      `json:"thread"`
}

// ThreadView is the core's view of a thread, as an agent sees it.
type ThreadView struct {
	State string          `json:"state"`
	Epoch uint64          `json:"epoch"`
	Fence uint64          `json:"fence"`
	Need  json.RawMessage `json:"need,omitempty"` // the NEED's payload
	// NeedRefs are the NEED's content_refs (its input when not inline).
	NeedRefs []string `json:"need_refs,omitempty"`
	// Decide is the current epoch's DECIDE payload, once there is one: the
	// chosen worker_pk, the verifiers, the fence.
	Decide json.RawMessage `json:"decide,omitempty"`
}

// AgentOutput is what swarm_handle returns (or nothing, for no output).
type AgentOutput struct {
	Actions []Action          `json:"actions"`
	PlanOps []json.RawMessage `json:"plan_ops,omitempty"`
	// Error, when set, says the agent could not handle the input; the host
	// records it and sends none of the actions.
	Error string `json:"error,omitempty"`
}

// PolicyRequest is the request of the policy_eval host function.
type PolicyRequest struct {
	Entrypoint string          `json:"entrypoint"`
	Input      json.RawMessage `json:"input"`
}

// PolicyResult is its answer (PROTOCOL.md section 7).
type PolicyResult struct {
	Result  json.RawMessage `json:"result"`
	GasUsed uint64          `json:"gas_used"`
	Digest  string          `json:"digest"`
}

// Action is an envelope the agent asks the host to stamp, sign and send.
type Action struct {
	Verb        string          `json:"verb"`
	Payload     json.RawMessage `json:"payload"`
	ContentRefs []string        `json:"content_refs,omitempty"`
	// PolicyEvalDigest is the digest of a policy_eval this action rests on
	// (an ATTEST's verify evaluation); the host checks it is one it made.
	PolicyEvalDigest string `json:"policy_eval_digest,omitempty"`
}
