package gas

import (
	"fmt"
	"strings"
)

// ImportModule is the module of the functions the instrumenter imports.
const ImportModule = "swarm_gas"

// Names of the imported functions, all in ImportModule.
const (
	ImportGet       = "get"       // () -> i64: the remaining gas, read at export entry and after each host call
	ImportSet       = "set"       // (i64) -> (): the remaining gas, written at export exit and before each host call
	ImportExhausted = "exhausted" // () -> (): a charge did not fit; the host aborts the call
	ImportTooDeep   = "too_deep"  // () -> (): the call depth limit was hit; the host aborts the call
)

// GasGlobalExport is the name under which the remaining-gas global (i64,
// mutable) is exported, so a wazero host can read the exact figure after a
// trap.
const GasGlobalExport = "swarm_gas_left"

// DefaultMaxCallDepth is the call depth limit used when Options.MaxCallDepth
// is 0. doc.go explains how it was chosen.
const DefaultMaxCallDepth = 1000

// Options configure Instrument.
type Options struct {
	// Costs is the cost table; nil means &V1.
	Costs *CostTable
	// MaxCallDepth bounds the number of nested calls to defined functions
	// that contain calls; 0 means DefaultMaxCallDepth.
	MaxCallDepth uint32
	// ExportGlobals exports every mutable global the output module defines
	// (the module's own and the instrumenter's) as GlobalExportPrefix
	// followed by its index, so that a host can read an instance's globals
	// and set another's to them (see CheckImage).
	ExportGlobals bool
}

// GlobalExportPrefix names the globals Options.ExportGlobals exports.
const GlobalExportPrefix = "swarm_global_"

// Instrument rewrites a WebAssembly binary module so that running it is gas
// metered and depth limited (see the package documentation for the
// contract). It returns an *UnsupportedFeatureError for a feature it does not
// handle and a *DecodeError for malformed input, both wrapped.
func Instrument(module []byte, opts Options) ([]byte, error) {
	costs := opts.Costs
	if costs == nil {
		costs = &V1
	}
	cc, err := costs.compile()
	if err != nil {
		return nil, err
	}
	depth := opts.MaxCallDepth
	if depth == 0 {
		depth = DefaultMaxCallDepth
	}
	if depth > 1<<31-1 {
		return nil, fmt.Errorf("gas: MaxCallDepth %d too large", depth)
	}
	m, err := decodeModule(module, false)
	if err != nil {
		return nil, fmt.Errorf("gas: instrument: %w", err)
	}
	for _, im := range m.imports {
		if im.module == ImportModule {
			return nil, fmt.Errorf("%w: it imports %s.%s", ErrAlreadyInstrumented, im.module, im.name)
		}
	}
	for _, e := range m.exports {
		if e.name == GasGlobalExport || opts.ExportGlobals && strings.HasPrefix(e.name, GlobalExportPrefix) {
			return nil, fmt.Errorf("%w: it exports %s", ErrAlreadyInstrumented, e.name)
		}
	}
	in := newInstrumenter(m, cc, depth)
	in.exportGlobals = opts.ExportGlobals
	out, err := in.run()
	if err != nil {
		return nil, fmt.Errorf("gas: instrument: %w", err)
	}
	return out, nil
}

// instrumenter holds the plan of one rewrite: the new index spaces and the
// parts added to the module.
type instrumenter struct {
	m     *module
	costs *compiled
	limit uint32

	newTypes []funcType // appended to the type section
	typeIdx  map[string]uint32
	tGet     uint32
	tSet     uint32
	tVoid    uint32
	tDyn     uint32

	nImp      uint32 // imported functions of the original module
	fGet      uint32
	fSet      uint32
	fExhaust  uint32
	fTooDeep  uint32
	fDynUnits uint32 // charge(n i32, unit i64) -> n: n*unit
	fDynWords uint32 // charge(n i32, unit i64) -> n: ceil(n/8)*unit
	thunkOf   map[uint32]uint32
	thunks    []uint32 // imported functions that get a thunk, in index order
	wrapperOf map[uint32]uint32
	wrapped   []uint32 // defined functions that get a wrapper, in index order
	gGas      uint32
	gDepth    uint32

	exportGlobals bool

	thunkDeclared map[uint32]bool // thunks referenced outside code
	thunkInCode   map[uint32]bool // thunks referenced by ref.func in code
}

func newInstrumenter(m *module, cc *compiled, limit uint32) *instrumenter {
	in := &instrumenter{m: m, costs: cc, limit: limit, thunkOf: map[uint32]uint32{}, wrapperOf: map[uint32]uint32{},
		thunkDeclared: map[uint32]bool{}, thunkInCode: map[uint32]bool{}}
	in.tGet = in.typeIndex(funcType{results: []byte{valI64}})
	in.tSet = in.typeIndex(funcType{params: []byte{valI64}})
	in.tVoid = in.typeIndex(funcType{})
	in.tDyn = in.typeIndex(funcType{params: []byte{valI32, valI64}, results: []byte{valI32}})

	in.nImp = uint32(m.numImpFunc)
	in.fGet, in.fSet, in.fExhaust, in.fTooDeep = in.nImp, in.nImp+1, in.nImp+2, in.nImp+3
	next := uint32(len(m.funcTypes)) + 4
	in.fDynUnits, in.fDynWords = next, next+1
	next += 2

	// Imported functions used as values get a thunk that hands the gas over.
	isThunked := make([]bool, in.nImp)
	mark := func(f uint32) {
		if f < in.nImp {
			isThunked[f] = true
		}
	}
	for _, s := range m.elems {
		for _, f := range s.funcs {
			mark(f)
		}
		for _, e := range s.exprs {
			if e.op == opRefFunc {
				mark(e.idx)
			}
		}
	}
	for _, g := range m.globals {
		if g.init.op == opRefFunc {
			mark(g.init.idx)
		}
	}
	for _, e := range m.exports {
		if e.kind == kindFunc {
			mark(e.idx)
		}
	}
	for f, ok := range isThunked {
		if ok {
			in.thunkOf[uint32(f)] = next
			in.thunks = append(in.thunks, uint32(f))
			next++
		}
	}
	// Exported defined functions and the start function get a wrapper.
	isWrapped := make([]bool, len(m.funcTypes))
	for _, e := range m.exports {
		if e.kind == kindFunc && e.idx >= in.nImp {
			isWrapped[e.idx] = true
		}
	}
	if m.hasStart && m.start >= in.nImp {
		isWrapped[m.start] = true
	}
	for f, ok := range isWrapped {
		if ok {
			in.wrapperOf[uint32(f)] = next
			in.wrapped = append(in.wrapped, uint32(f))
			next++
		}
	}
	in.gGas = uint32(len(m.globTypes))
	in.gDepth = in.gGas + 1
	return in
}

// typeIndex returns the index of the first type equal to t, adding one if
// needed.
func (in *instrumenter) typeIndex(t funcType) uint32 {
	if in.typeIdx == nil {
		in.typeIdx = make(map[string]uint32, len(in.m.types))
		for i := len(in.m.types) - 1; i >= 0; i-- {
			in.typeIdx[in.m.types[i].key()] = uint32(i)
		}
	}
	k := t.key()
	if i, ok := in.typeIdx[k]; ok {
		return i
	}
	i := uint32(len(in.m.types) + len(in.newTypes))
	in.newTypes = append(in.newTypes, t)
	in.typeIdx[k] = i
	return i
}

// shift maps an original function index to its index in the output.
func (in *instrumenter) shift(f uint32) uint32 {
	if f < in.nImp {
		return f
	}
	return f + 4
}

// value maps an original function index used as a value (table entry,
// ref.func) to the output: imported functions go through their thunk.
func (in *instrumenter) value(f uint32) uint32 {
	if f < in.nImp {
		if t, ok := in.thunkOf[f]; ok {
			return t
		}
	}
	return in.shift(f)
}

func (in *instrumenter) run() ([]byte, error) {
	m := in.m
	for _, s := range m.elems {
		for _, f := range s.funcs {
			in.declare(f)
		}
		for _, e := range s.exprs {
			if e.op == opRefFunc {
				in.declare(e.idx)
			}
		}
	}
	for _, g := range m.globals {
		if g.init.op == opRefFunc {
			in.declare(g.init.idx)
		}
	}
	code, err := in.codeSection()
	if err != nil {
		return nil, err
	}
	return in.assemble(code), nil
}

func (in *instrumenter) declare(f uint32) {
	if t, ok := in.thunkOf[f]; ok && f < in.nImp {
		in.thunkDeclared[t] = true
	}
}

// undeclaredThunks lists thunks that code references with ref.func but no
// element segment or global declares; a declarative segment declares them.
func (in *instrumenter) undeclaredThunks() []uint32 {
	var out []uint32
	for _, f := range in.thunks {
		t := in.thunkOf[f]
		if in.thunkInCode[t] && !in.thunkDeclared[t] {
			out = append(out, t)
		}
	}
	return out
}

// codeSection rewrites every body and appends the generated functions.
func (in *instrumenter) codeSection() ([]byte, error) {
	m := in.m
	total := 0
	for _, s := range m.sections {
		if s.id == secCode {
			total = s.end - s.start
		}
	}
	out := make([]byte, 0, total+total/3+1024)
	nfuncs := len(m.codes) + 2 + len(in.thunks) + len(in.wrapped)
	out = appendU32(out, uint32(nfuncs))
	d := &bodyDecoder{m: m}
	mt := &meter{}
	var body []byte
	for i, c := range m.codes {
		if err := d.decode(c); err != nil {
			return nil, fmt.Errorf("function %d: %w", int(in.nImp)+i, err)
		}
		localsCost := uint64(in.costs.localDecl) * c.numLocals
		if err := mt.run(d, in.costs, localsCost); err != nil {
			return nil, fmt.Errorf("function %d: %w", int(in.nImp)+i, err)
		}
		ft := m.types[m.funcTypes[int(in.nImp)+i]]
		body = in.rewriteBody(body[:0], c, d, mt.charges, ft)
		out = appendU32(out, uint32(len(body)))
		out = append(out, body...)
	}
	for _, gen := range [][]byte{in.dynBody(false), in.dynBody(true)} {
		out = appendU32(out, uint32(len(gen)))
		out = append(out, gen...)
	}
	for _, f := range in.thunks {
		body = in.thunkBody(body[:0], f)
		out = appendU32(out, uint32(len(body)))
		out = append(out, body...)
	}
	for _, f := range in.wrapped {
		body = in.wrapperBody(body[:0], f)
		out = appendU32(out, uint32(len(body)))
		out = append(out, body...)
	}
	return out, nil
}
