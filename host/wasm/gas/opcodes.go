package gas

// The opcode tables: for every instruction, the immediates that follow it,
// its role in control flow, its cost class and the feature it belongs to.

// Opcodes the instrumenter emits or rewrites.
const (
	opUnreachable  = 0x00
	opBlock        = 0x02
	opLoop         = 0x03
	opIf           = 0x04
	opElse         = 0x05
	opEnd          = 0x0b
	opBr           = 0x0c
	opBrIf         = 0x0d
	opBrTable      = 0x0e
	opReturn       = 0x0f
	opCall         = 0x10
	opCallIndirect = 0x11
	opLocalGet     = 0x20
	opLocalSet     = 0x21
	opLocalTee     = 0x22
	opGlobalGet    = 0x23
	opGlobalSet    = 0x24
	opMemoryGrow   = 0x40
	opI32Const     = 0x41
	opI64Const     = 0x42
	opF32Const     = 0x43
	opF64Const     = 0x44
	opI32GeU       = 0x4f
	opI64LtU       = 0x54
	opI32Add       = 0x6a
	opI32Sub       = 0x6b
	opI64Add       = 0x7c
	opI64Sub       = 0x7d
	opI64Mul       = 0x7e
	opI64ShrU      = 0x88
	opI64ExtendU   = 0xad
	opRefNull      = 0xd0
	opRefFunc      = 0xd2
	opPrefixGC     = 0xfb
	opPrefixMisc   = 0xfc
	opPrefixSIMD   = 0xfd
	opPrefixAtomic = 0xfe

	blockEmpty = 0x40
)

// Value and reference types.
const (
	valI32       = 0x7f
	valI64       = 0x7e
	valF32       = 0x7d
	valF64       = 0x7c
	valV128      = 0x7b
	valFuncref   = 0x70
	valExternref = 0x6f
)

// immKind says which immediates follow an opcode.
type immKind uint8

const (
	immNone         immKind = iota
	immBlockType            // block, loop, if, try
	immLabel                // br, br_if, rethrow, delegate
	immBrTable              // br_table
	immFunc                 // call, ref.func, return_call
	immCallIndirect         // call_indirect, return_call_indirect: typeidx tableidx
	immIndex                // local.*, global.*, table.get/set, data.drop, elem.drop, table.size/grow/fill, throw, catch, call_ref type
	immMemarg               // loads and stores
	immMemIdx               // memory.size, memory.grow, memory.fill: a memory index
	immI32                  // i32.const
	immI64                  // i64.const
	immF32                  // f32.const
	immF64                  // f64.const
	immHeapType             // ref.null
	immSelectT              // select t*
	immIndex2               // memory.init (data, mem), memory.copy (mem, mem), table.init (elem, table), table.copy
	immTryTable             // try_table
)

// ctlKind is an instruction's role in the metering algorithm.
type ctlKind uint8

const (
	ctlNone ctlKind = iota
	ctlBlock
	ctlLoop
	ctlIf
	ctlElse
	ctlEnd
	ctlBr
	ctlBrIf
	ctlBrTable
	ctlReturn
)

// dynKind says how an instruction is charged per unit of its operand.
type dynKind uint8

const (
	dynNone     dynKind = iota
	dynPages            // memory.grow: per page requested
	dynBytes            // memory.copy, memory.fill, memory.init: per started 8-byte word
	dynElements         // table.copy, table.fill, table.init, table.grow: per element
)

// opInfo describes one opcode.
type opInfo struct {
	valid bool
	imm   immKind
	ctl   ctlKind
	class costClass
	feat  feature
	dyn   dynKind
}

// ops describes the single-byte opcodes, miscOps the 0xFC-prefixed ones.
var (
	ops     [256]opInfo
	miscOps [32]opInfo
)

func def(tab []opInfo, lo, hi int, imm immKind, class costClass, feat feature) {
	for op := lo; op <= hi; op++ {
		tab[op] = opInfo{valid: true, imm: imm, class: class, feat: feat}
	}
}

func init() {
	o := ops[:]
	def(o, 0x00, 0x00, immNone, costUnreachable, featMVP)
	def(o, 0x01, 0x01, immNone, costStructure, featMVP)
	def(o, 0x02, 0x03, immBlockType, costStructure, featMVP)
	def(o, 0x04, 0x04, immBlockType, costIf, featMVP)
	def(o, 0x05, 0x05, immNone, costStructure, featMVP)
	def(o, 0x06, 0x06, immBlockType, costStructure, featExceptions) // try
	def(o, 0x07, 0x08, immIndex, costStructure, featExceptions)     // catch, throw
	def(o, 0x09, 0x09, immLabel, costStructure, featExceptions)     // rethrow
	def(o, 0x0a, 0x0a, immNone, costStructure, featExceptions)      // throw_ref
	def(o, 0x0b, 0x0b, immNone, costStructure, featMVP)
	def(o, 0x0c, 0x0d, immLabel, costBr, featMVP)
	def(o, 0x0e, 0x0e, immBrTable, costBrTable, featMVP)
	def(o, 0x0f, 0x0f, immNone, costReturn, featMVP)
	def(o, 0x10, 0x10, immFunc, costCall, featMVP)
	def(o, 0x11, 0x11, immCallIndirect, costCallIndirect, featMVP)
	def(o, 0x12, 0x12, immFunc, costCall, featTailCall)
	def(o, 0x13, 0x13, immCallIndirect, costCallIndirect, featTailCall)
	def(o, 0x14, 0x15, immIndex, costCallIndirect, featFuncRefs) // call_ref, return_call_ref
	def(o, 0x18, 0x18, immLabel, costStructure, featExceptions)  // delegate
	def(o, 0x19, 0x19, immNone, costStructure, featExceptions)   // catch_all
	def(o, 0x1a, 0x1b, immNone, costParametric, featMVP)
	def(o, 0x1c, 0x1c, immSelectT, costParametric, featReferenceTypes)
	def(o, 0x1f, 0x1f, immTryTable, costStructure, featExceptions)
	def(o, 0x20, 0x22, immIndex, costLocal, featMVP)
	def(o, 0x23, 0x24, immIndex, costGlobal, featMVP)
	def(o, 0x25, 0x26, immIndex, costTableAccess, featReferenceTypes)
	def(o, 0x28, 0x35, immMemarg, costLoad, featMVP)
	def(o, 0x36, 0x3e, immMemarg, costStore, featMVP)
	def(o, 0x3f, 0x3f, immMemIdx, costMemorySize, featMVP)
	def(o, 0x40, 0x40, immMemIdx, costMemoryGrow, featMVP)
	ops[0x40].dyn = dynPages
	def(o, 0x41, 0x41, immI32, costConst, featMVP)
	def(o, 0x42, 0x42, immI64, costConst, featMVP)
	def(o, 0x43, 0x43, immF32, costConst, featMVP)
	def(o, 0x44, 0x44, immF64, costConst, featMVP)
	def(o, 0x45, 0x5a, immNone, costInt, featMVP)   // i32/i64 eqz and comparisons
	def(o, 0x5b, 0x66, immNone, costFloat, featMVP) // f32/f64 comparisons
	def(o, 0x67, 0x8a, immNone, costInt, featMVP)   // i32/i64 arithmetic
	for _, op := range []int{0x6c, 0x7e} {
		ops[op].class = costIntMul
	}
	for _, op := range []int{0x6d, 0x6e, 0x6f, 0x70, 0x7f, 0x80, 0x81, 0x82} {
		ops[op].class = costIntDiv
	}
	def(o, 0x8b, 0xa6, immNone, costFloat, featMVP) // f32/f64 arithmetic
	for _, op := range []int{0x94, 0xa2} {
		ops[op].class = costFloatMul
	}
	for _, op := range []int{0x91, 0x95, 0x9f, 0xa3} { // sqrt, div
		ops[op].class = costFloatDiv
	}
	def(o, 0xa7, 0xbf, immNone, costConvert, featMVP)
	for _, op := range []int{0xa8, 0xa9, 0xaa, 0xab, 0xae, 0xaf, 0xb0, 0xb1} {
		ops[op].class = costTrunc
	}
	def(o, 0xc0, 0xc4, immNone, costConvert, featSignExt)
	def(o, 0xd0, 0xd0, immHeapType, costRef, featReferenceTypes)
	def(o, 0xd1, 0xd1, immNone, costRef, featReferenceTypes)
	def(o, 0xd2, 0xd2, immFunc, costRef, featReferenceTypes)
	def(o, 0xd3, 0xd3, immNone, costRef, featFuncRefs) // ref.as_non_null
	def(o, 0xd4, 0xd4, immLabel, costBr, featFuncRefs) // br_on_null
	def(o, 0xd5, 0xd5, immNone, costRef, featGC)       // ref.eq
	def(o, 0xd6, 0xd6, immLabel, costBr, featFuncRefs) // br_on_non_null

	for _, op := range []int{opBlock} {
		ops[op].ctl = ctlBlock
	}
	ops[opLoop].ctl = ctlLoop
	ops[opIf].ctl = ctlIf
	ops[opElse].ctl = ctlElse
	ops[opEnd].ctl = ctlEnd
	ops[opBr].ctl = ctlBr
	ops[opBrIf].ctl = ctlBrIf
	ops[opBrTable].ctl = ctlBrTable
	ops[opReturn].ctl = ctlReturn

	m := miscOps[:]
	def(m, 0, 7, immNone, costTrunc, featSatConv)
	def(m, 8, 8, immIndex2, costBulk, featBulkMemory) // memory.init data mem
	miscOps[8].dyn = dynBytes
	def(m, 9, 9, immIndex, costDropSegment, featBulkMemory) // data.drop
	def(m, 10, 10, immIndex2, costBulk, featBulkMemory)     // memory.copy mem mem
	miscOps[10].dyn = dynBytes
	def(m, 11, 11, immMemIdx, costBulk, featBulkMemory) // memory.fill mem
	miscOps[11].dyn = dynBytes
	def(m, 12, 12, immIndex2, costBulk, featBulkMemory) // table.init elem table
	miscOps[12].dyn = dynElements
	def(m, 13, 13, immIndex, costDropSegment, featBulkMemory) // elem.drop
	def(m, 14, 14, immIndex2, costBulk, featBulkMemory)       // table.copy table table
	miscOps[14].dyn = dynElements
	def(m, 15, 15, immIndex, costTableGrow, featReferenceTypes) // table.grow
	miscOps[15].dyn = dynElements
	def(m, 16, 16, immIndex, costTableAccess, featReferenceTypes) // table.size
	def(m, 17, 17, immIndex, costBulk, featReferenceTypes)        // table.fill
	miscOps[17].dyn = dynElements
	def(m, 19, 22, immNone, costIntMul, featWideArithmetic) // i64.add128 ... mul_wide_u
}

// simdImm returns the immediates of the 0xFD-prefixed opcode sub, and false
// for an opcode that does not exist.
func simdImm(sub uint32) (memarg, lane bool, bytes16 bool, ok bool) {
	switch {
	case sub <= 11 || sub == 92 || sub == 93:
		return true, false, false, true
	case sub == 12 || sub == 13:
		return false, false, true, true
	case sub >= 21 && sub <= 34:
		return false, true, false, true
	case sub >= 84 && sub <= 91:
		return true, true, false, true
	case sub <= 0xff:
		return false, false, false, true
	case sub >= 0x100 && sub <= 0x113: // relaxed SIMD
		return false, false, false, true
	}
	return false, false, false, false
}

// atomicImm returns the immediates of the 0xFE-prefixed opcode sub.
func atomicImm(sub uint32) (memarg, fence bool, ok bool) {
	switch {
	case sub <= 2 || (sub >= 0x10 && sub <= 0x4e):
		return true, false, true
	case sub == 3:
		return false, true, true
	}
	return false, false, false
}
