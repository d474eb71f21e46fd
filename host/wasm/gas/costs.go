package gas

import "fmt"

// CostTable holds the weights the instrumenter charges. One unit of gas is
// roughly the cost of one simple integer instruction on the compiler engine.
//
// Version names the table: it is part of every compiled-module cache key and
// of every recorded gas figure, so it MUST change whenever any weight
// changes (a test pins V1's weights to "gas-v1").
type CostTable struct {
	Version string

	// Control flow.
	Structure    uint32 // nop, block, loop (else and end are never charged): no work of their own
	If           uint32
	Br           uint32 // br, br_if (must be > 0: every loop iteration takes a branch)
	BrTable      uint32 // must be > 0
	Return       uint32
	Unreachable  uint32
	Call         uint32 // a direct call, including the callee's frame set-up
	CallIndirect uint32 // call_indirect: table bounds and signature checks on top of a call

	// Variables, constants and parametric instructions.
	Local      uint32 // local.get, local.set, local.tee
	Global     uint32 // global.get, global.set
	Const      uint32 // i32/i64/f32/f64.const
	Parametric uint32 // drop, select

	// Numeric instructions.
	Int      uint32 // integer add/sub/logic/shift/rotate/compare/eqz/clz/ctz/popcnt
	IntMul   uint32
	IntDiv   uint32 // div_s, div_u, rem_s, rem_u
	Float    uint32 // float add/sub/compare/abs/neg/min/max/copysign/ceil/floor/trunc/nearest
	FloatMul uint32
	FloatDiv uint32 // div, sqrt
	Convert  uint32 // wrap, extend, convert, demote, promote, reinterpret, sign extension
	Trunc    uint32 // float to integer, trapping and saturating

	// Memory.
	Load       uint32
	Store      uint32
	MemorySize uint32
	MemoryGrow uint32 // base cost of memory.grow
	PerPage    uint32 // per 64 KiB page requested by memory.grow, charged before it runs

	// Bulk memory, reference types and tables.
	Bulk        uint32 // base cost of memory.copy/fill/init and table.copy/fill/init
	PerWord     uint32 // per started 8-byte word of memory.copy/fill/init, charged before it runs
	PerElement  uint32 // per element of table.copy/fill/init/grow, charged before it runs
	DropSegment uint32 // data.drop, elem.drop
	Ref         uint32 // ref.null, ref.is_null, ref.func
	TableAccess uint32 // table.get, table.set, table.size
	TableGrow   uint32 // base cost of table.grow

	// Functions.
	LocalDecl uint32 // per declared local of a function (zeroed on entry), charged at entry
}

// V1 is the default cost table.
var V1 = CostTable{
	Version: "gas-v1",

	Structure:    0,
	If:           1,
	Br:           1,
	BrTable:      2,
	Return:       1,
	Unreachable:  1,
	Call:         3,
	CallIndirect: 5,

	Local:      1,
	Global:     1,
	Const:      1,
	Parametric: 1,

	Int:      1,
	IntMul:   2,
	IntDiv:   10,
	Float:    1,
	FloatMul: 2,
	FloatDiv: 10,
	Convert:  1,
	Trunc:    2,

	Load:       2,
	Store:      2,
	MemorySize: 1,
	MemoryGrow: 100,
	PerPage:    8192,

	Bulk:        5,
	PerWord:     1,
	PerElement:  1,
	DropSegment: 1,
	Ref:         1,
	TableAccess: 2,
	TableGrow:   10,

	LocalDecl: 1,
}

// costClass indexes the weights of a CostTable.
type costClass uint8

const (
	costStructure costClass = iota
	costIf
	costBr
	costBrTable
	costReturn
	costUnreachable
	costCall
	costCallIndirect
	costLocal
	costGlobal
	costConst
	costParametric
	costInt
	costIntMul
	costIntDiv
	costFloat
	costFloatMul
	costFloatDiv
	costConvert
	costTrunc
	costLoad
	costStore
	costMemorySize
	costMemoryGrow
	costBulk
	costDropSegment
	costRef
	costTableAccess
	costTableGrow
	numCostClasses
)

// maxWeight bounds every weight so that no sum the instrumenter forms can
// overflow: a metered block's cost is at most (body size) * maxWeight, and a
// dynamic charge at most 2^32 * maxWeight, both far below 2^63.
const maxWeight = 1 << 24

// compiled is a cost table turned into per-opcode lookups.
type compiled struct {
	ops        [256]uint32
	misc       [32]uint32
	perPage    uint32
	perWord    uint32
	perElement uint32
	localDecl  uint32
}

func (t *CostTable) classWeights() [numCostClasses]uint32 {
	return [numCostClasses]uint32{
		costStructure:    t.Structure,
		costIf:           t.If,
		costBr:           t.Br,
		costBrTable:      t.BrTable,
		costReturn:       t.Return,
		costUnreachable:  t.Unreachable,
		costCall:         t.Call,
		costCallIndirect: t.CallIndirect,
		costLocal:        t.Local,
		costGlobal:       t.Global,
		costConst:        t.Const,
		costParametric:   t.Parametric,
		costInt:          t.Int,
		costIntMul:       t.IntMul,
		costIntDiv:       t.IntDiv,
		costFloat:        t.Float,
		costFloatMul:     t.FloatMul,
		costFloatDiv:     t.FloatDiv,
		costConvert:      t.Convert,
		costTrunc:        t.Trunc,
		costLoad:         t.Load,
		costStore:        t.Store,
		costMemorySize:   t.MemorySize,
		costMemoryGrow:   t.MemoryGrow,
		costBulk:         t.Bulk,
		costDropSegment:  t.DropSegment,
		costRef:          t.Ref,
		costTableAccess:  t.TableAccess,
		costTableGrow:    t.TableGrow,
	}
}

// compile validates the table and builds the per-opcode lookups.
func (t *CostTable) compile() (*compiled, error) {
	if t.Version == "" {
		return nil, fmt.Errorf("%w: empty Version", ErrBadCostTable)
	}
	if t.Br == 0 || t.BrTable == 0 {
		return nil, fmt.Errorf("%w %q: Br and BrTable must be positive, or an empty loop would run for free", ErrBadCostTable, t.Version)
	}
	w := t.classWeights()
	for class, v := range w {
		if v > maxWeight {
			return nil, fmt.Errorf("%w %q: weight of class %d is %d, above %d", ErrBadCostTable, t.Version, class, v, maxWeight)
		}
	}
	for _, v := range []uint32{t.PerPage, t.PerWord, t.PerElement, t.LocalDecl} {
		if v > maxWeight {
			return nil, fmt.Errorf("%w %q: a per-unit weight is %d, above %d", ErrBadCostTable, t.Version, v, maxWeight)
		}
	}
	c := &compiled{perPage: t.PerPage, perWord: t.PerWord, perElement: t.PerElement, localDecl: t.LocalDecl}
	for op := range ops {
		c.ops[op] = w[ops[op].class]
	}
	for op := range miscOps {
		c.misc[op] = w[miscOps[op].class]
	}
	return c, nil
}
