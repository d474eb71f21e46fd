package sdk

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/canswarm/swarmhost/abi"
)

// Host is what the host functions reach. Inside swarmhost it is the real
// swarm_v1 imports; elsewhere, whatever UseHost installed.
type Host interface {
	CASGet(ref string) ([]byte, error)
	CASPut(data []byte) (string, error)
	Log(level int32, msg string)
	PolicyEval(request []byte) ([]byte, error)
	PlanQuery(request []byte) ([]byte, error)
}

// HostError is a host function's negative answer.
type HostError struct {
	Func string
	Code int64
}

func (e *HostError) Error() string {
	return fmt.Sprintf("%s: %s (%d)", e.Func, codeText(e.Code), e.Code)
}

func codeText(c int64) string {
	switch c {
	case abi.ErrNotFound:
		return "not found"
	case abi.ErrBadArgument:
		return "bad argument"
	case abi.ErrDenied:
		return "denied"
	case abi.ErrTooLarge:
		return "too large"
	case abi.ErrUnavailable:
		return "not available"
	}
	return "error"
}

// IsCode reports whether err is a HostError with the given code.
func IsCode(err error, code int64) bool {
	var he *HostError
	return errors.As(err, &he) && he.Code == code
}

// UseHost installs h as the host for code running outside WebAssembly (or
// replaces the real one, for tests).
func UseHost(h Host) { host = h }

// CASGet reads a blob from the content-addressed store.
func CASGet(ref string) ([]byte, error) { return host.CASGet(ref) }

// CASPut stores a blob and returns its ref.
func CASPut(data []byte) (string, error) { return host.CASPut(data) }

// Log writes a line attributed to the agent.
func Log(level int32, format string, args ...any) { host.Log(level, fmt.Sprintf(format, args...)) }

// PolicyEval evaluates the thread's policy capsule at an entrypoint.
func PolicyEval(entrypoint string, input any) (*abi.PolicyResult, error) {
	in, err := json.Marshal(input)
	if err != nil {
		return nil, fmt.Errorf("policy_eval input: %w", err)
	}
	req, _ := json.Marshal(abi.PolicyRequest{Entrypoint: entrypoint, Input: in})
	answer, err := host.PolicyEval(req)
	if err != nil {
		return nil, err
	}
	var res abi.PolicyResult
	if err := json.Unmarshal(answer, &res); err != nil {
		return nil, fmt.Errorf("policy_eval answer: %w", err)
	}
	return &res, nil
}

// PlanQuery reads the shared plan; request and answer are JSON.
func PlanQuery(request any) (json.RawMessage, error) {
	req, err := json.Marshal(request)
	if err != nil {
		return nil, fmt.Errorf("plan_query request: %w", err)
	}
	return host.PlanQuery(req)
}

// noHost answers every call outside swarmhost when no host was installed.
type noHost struct{}

var errNoHost = errors.New("sdk: no host: host functions exist inside swarmhost; use sdk.UseHost in tests")

func (noHost) CASGet(string) ([]byte, error)     { return nil, errNoHost }
func (noHost) CASPut([]byte) (string, error)     { return "", errNoHost }
func (noHost) Log(int32, string)                 {}
func (noHost) PolicyEval([]byte) ([]byte, error) { return nil, errNoHost }
func (noHost) PlanQuery([]byte) ([]byte, error)  { return nil, errNoHost }
