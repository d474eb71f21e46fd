package wasm

import (
	"errors"
	"fmt"
)

// FaultKind classifies why a plugin call ended without a result.
type FaultKind string

// The kinds of fault.
const (
	FaultOutOfGas       FaultKind = "out of gas"
	FaultStackDepth     FaultKind = "stack depth"
	FaultMemoryLimit    FaultKind = "memory limit"
	FaultTrap           FaultKind = "trap"
	FaultBadPointer     FaultKind = "bad pointer"
	FaultBadOutput      FaultKind = "bad output"
	FaultOutputTooLarge FaultKind = "output too large"
	FaultHostCallLimit  FaultKind = "host call limit"
	FaultExit           FaultKind = "exit"
)

// Fault is a plugin call that ended without a result: what kind, the
// detail, and the gas it had used when it stopped.
type Fault struct {
	Kind    FaultKind
	Detail  string
	GasUsed uint64
	Budget  uint64
}

func (f *Fault) Error() string {
	if f.Kind == FaultOutOfGas {
		return fmt.Sprintf("out of gas (used %d of %d)", f.GasUsed, f.Budget)
	}
	return fmt.Sprintf("%s: %s", f.Kind, f.Detail)
}

// AsFault returns the *Fault in err's chain, if any.
func AsFault(err error) (*Fault, bool) {
	var f *Fault
	ok := errors.As(err, &f)
	return f, ok
}

// Sentinels raised (as panics) by host functions to abort a call; wazero
// hands them back wrapped in the call's error.
var (
	errOutOfGas      = errors.New("swarm: out of gas")
	errTooDeep       = errors.New("swarm: call depth limit")
	errHostCallLimit = errors.New("swarm: host call limit")
)
