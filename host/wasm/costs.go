package wasm

// HostCosts is what host functions charge, on top of the instructions the
// instrumenter meters. Like the instruction cost table it is versioned:
// changing any figure changes Version, and recorded gas figures name it.
type HostCosts struct {
	Version string
	// Base is charged on every host call, before anything else.
	Base uint64
	// PerByte is charged for every byte a host function reads from or
	// writes to guest memory, or hashes.
	PerByte uint64
	// CASPut is charged on top of Base for a store (hashing, a write).
	CASPut uint64
}

// HostCostsV1 is the table in force.
var HostCostsV1 = HostCosts{Version: "host-v1", Base: 500, PerByte: 1, CASPut: 2000}
