//go:build wasip1

package sdk

import (
	"unsafe"

	"github.com/canswarm/swarmhost/abi"
)

// The swarm_v1 exports. Buffers handed to the host stay referenced from Go
// until the next call, so the (non-moving) collector does not free them
// while the host reads them.

var (
	pinned     = map[uint32][]byte{} // swarm_alloc buffers the host has not passed back yet
	lastOutput []byte                // the buffer of the last describe or handle result
)

//go:wasmexport swarm_alloc
func swarmAlloc(size uint32) uint32 {
	buf := make([]byte, max(size, 1))
	p := uint32(uintptr(unsafe.Pointer(unsafe.SliceData(buf))))
	pinned[p] = buf
	return p
}

//go:wasmexport swarm_describe
func swarmDescribe() uint64 {
	b, err := DescribeJSON(registered)
	if err != nil || registered == nil {
		return 0
	}
	return keep(b)
}

//go:wasmexport swarm_handle
func swarmHandle(ptr, n uint32) uint64 {
	buf, ok := pinned[ptr]
	if !ok || int(n) > len(buf) {
		// ABI.md: the host writes the input into a swarm_alloc buffer.
		return keep(errorOutput("swarm_handle: the input is not in a buffer from swarm_alloc"))
	}
	delete(pinned, ptr)
	out := HandleJSON(registered, buf[:n])
	if len(out) == 0 {
		lastOutput = nil
		return 0
	}
	return keep(out)
}

func keep(b []byte) uint64 {
	lastOutput = b
	p := uint32(uintptr(unsafe.Pointer(unsafe.SliceData(b))))
	return uint64(p)<<32 | uint64(uint32(len(b)))
}

var host Host = wasmHost{}

// wasmHost calls the swarm_v1 imports.
type wasmHost struct{}

//go:wasmimport swarm_v1 cas_get
func casGet(refPtr unsafe.Pointer, refLen uint32, outPtr unsafe.Pointer, outCap uint32) int64

//go:wasmimport swarm_v1 cas_put
func casPut(ptr unsafe.Pointer, n uint32, refOut unsafe.Pointer) int32

//go:wasmimport swarm_v1 log
func logLine(level int32, ptr unsafe.Pointer, n uint32)

//go:wasmimport swarm_v1 policy_eval
func policyEval(reqPtr unsafe.Pointer, reqLen uint32, outPtr unsafe.Pointer, outCap uint32) int64

//go:wasmimport swarm_v1 plan_query
func planQuery(reqPtr unsafe.Pointer, reqLen uint32, outPtr unsafe.Pointer, outCap uint32) int64

// callGrowing calls a host function with the length rule of ABI.md: the
// answer is the full length; call again with a bigger buffer when it did
// not fit.
func callGrowing(name string, req []byte, f func(req unsafe.Pointer, reqLen uint32, out unsafe.Pointer, outCap uint32) int64) ([]byte, error) {
	out := make([]byte, 4096)
	for {
		n := f(ptrOf(req), uint32(len(req)), ptrOf(out), uint32(len(out)))
		if n < 0 {
			return nil, &HostError{Func: name, Code: n}
		}
		if n <= int64(len(out)) {
			return out[:n], nil
		}
		out = make([]byte, n)
	}
}

func ptrOf(b []byte) unsafe.Pointer {
	if len(b) == 0 {
		return nil
	}
	return unsafe.Pointer(unsafe.SliceData(b))
}

func (wasmHost) CASGet(ref string) ([]byte, error) {
	return callGrowing(abi.HostCASGet, []byte(ref), casGet)
}

func (wasmHost) CASPut(data []byte) (string, error) {
	ref := make([]byte, 71)
	if rc := casPut(ptrOf(data), uint32(len(data)), unsafe.Pointer(unsafe.SliceData(ref))); rc < 0 {
		return "", &HostError{Func: abi.HostCASPut, Code: int64(rc)}
	}
	return string(ref), nil
}

func (wasmHost) Log(level int32, msg string) {
	b := []byte(msg)
	logLine(level, ptrOf(b), uint32(len(b)))
}

func (wasmHost) PolicyEval(req []byte) ([]byte, error) {
	return callGrowing(abi.HostPolicyEval, req, policyEval)
}

func (wasmHost) PlanQuery(req []byte) ([]byte, error) {
	return callGrowing(abi.HostPlanQuery, req, planQuery)
}

// init runs, once, in _initialize, what every call does (warmUp): the
// host starts every call's instance from an image of the initialised
// instance (host/wasm/image.go), so what is built here is not built again
// in each call.
func init() { warmUp() }
