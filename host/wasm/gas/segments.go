package gas

import (
	"cmp"
	"slices"
)

// maxLocals bounds the locals a function may declare.
const maxLocals = 50000

// Decoding constant expressions and the segment-carrying sections: element,
// code (bodies are decoded by body.go) and data.

// constExpr reads a constant expression.
func (m *module) constExpr(r *reader) (constExpr, error) {
	start := r.pos
	e := constExpr{}
	n := 0
	for {
		at := r.pos
		op, err := r.byte()
		if err != nil {
			return e, err
		}
		if op == opEnd {
			break
		}
		n++
		e.op = op
		switch op {
		case opI32Const:
			_, err = r.s32()
		case opI64Const:
			_, err = r.s64()
		case opF32Const:
			_, err = r.bytes(4)
		case opF64Const:
			_, err = r.bytes(8)
		case opRefNull:
			err = m.heapType(r)
			m.feats.add(featReferenceTypes)
		case opRefFunc:
			idxAt := r.pos
			e.idx, err = r.u32()
			if err == nil && int(e.idx) >= len(m.funcTypes) {
				r.pos = idxAt
				err = r.errorf("function index %d out of range", e.idx)
			}
		case opGlobalGet:
			idxAt := r.pos
			e.idx, err = r.u32()
			if err == nil && int(e.idx) >= len(m.globTypes) {
				r.pos = idxAt
				err = r.errorf("global index %d out of range", e.idx)
			}
		case 0x6a, 0x6b, 0x6c, 0x7c, 0x7d, 0x7e:
			err = m.use(featExtendedConst, at)
		case opPrefixSIMD:
			err = m.use(featSIMD, at)
			if err == nil {
				var sub uint32
				if sub, err = r.u32(); err == nil && sub == 12 {
					_, err = r.bytes(16)
				} else if err == nil {
					err = r.errorf("invalid constant instruction 0xfd %d", sub)
				}
			}
		case opPrefixGC:
			m.feats.add(featGC)
			err = &UnsupportedFeatureError{Feature: featGC.String(), Offset: at}
		default:
			r.pos = at
			err = r.errorf("invalid constant instruction 0x%02x", op)
		}
		if err != nil {
			return e, err
		}
	}
	if n != 1 && !m.feats.has(featExtendedConst) {
		r.pos = start
		return e, r.errorf("constant expression of %d instructions", n)
	}
	e.raw = r.buf[start:r.pos]
	return e, nil
}

// heapType reads the heap type of ref.null.
func (m *module) heapType(r *reader) error {
	at := r.pos
	b, err := r.byte()
	if err != nil {
		return err
	}
	if b == valFuncref || b == valExternref {
		return nil
	}
	r.pos = at
	if b < 0x40 { // a type index: typed function references
		m.feats.add(featFuncRefs)
		return &UnsupportedFeatureError{Feature: featFuncRefs.String(), Offset: at}
	}
	return m.checkValType(r, b, at)
}

func (m *module) decodeElements(r *reader) error {
	n, err := r.count(1)
	if err != nil {
		return err
	}
	for i := 0; i < n; i++ {
		at := r.pos
		var s elemSegment
		if s.flags, err = r.u32(); err != nil {
			return err
		}
		if s.flags > 7 {
			r.pos = at
			return r.errorf("invalid element segment flags %d", s.flags)
		}
		if s.flags != 0 {
			m.feats.add(featBulkMemory)
		}
		active := s.flags&1 == 0
		explicit := s.flags&2 != 0
		exprs := s.flags&4 != 0
		if active && explicit {
			if s.table, err = r.u32(); err != nil {
				return err
			}
		}
		if active {
			if int(s.table) >= len(m.tables) {
				r.pos = at
				return r.errorf("element segment %d: table index %d out of range", i, s.table)
			}
			if s.table != 0 {
				m.feats.add(featReferenceTypes)
			}
			if s.offset, err = m.constExpr(r); err != nil {
				return err
			}
		}
		if s.flags&3 != 0 { // an elemkind or reftype byte follows
			kindAt := r.pos
			if s.kind, err = r.byte(); err != nil {
				return err
			}
			if exprs {
				switch s.kind {
				case valFuncref:
				case valExternref:
					m.feats.add(featReferenceTypes)
				default:
					if err := m.checkValType(r, s.kind, kindAt); err != nil {
						return err
					}
					r.pos = kindAt
					return r.errorf("element type 0x%02x is not a reference type", s.kind)
				}
			} else if s.kind != 0 {
				r.pos = kindAt
				return r.errorf("invalid element kind 0x%02x", s.kind)
			}
		}
		cnt, err := r.count(1)
		if err != nil {
			return err
		}
		if exprs {
			s.exprs = make([]constExpr, 0, cnt)
			for j := 0; j < cnt; j++ {
				e, err := m.constExpr(r)
				if err != nil {
					return err
				}
				if e.op == opRefNull {
					m.feats.add(featReferenceTypes)
				}
				s.exprs = append(s.exprs, e)
			}
		} else {
			s.funcs = make([]uint32, 0, cnt)
			for j := 0; j < cnt; j++ {
				idxAt := r.pos
				f, err := r.u32()
				if err != nil {
					return err
				}
				if int(f) >= len(m.funcTypes) {
					r.pos = idxAt
					return r.errorf("element segment %d: function index %d out of range", i, f)
				}
				s.funcs = append(s.funcs, f)
			}
		}
		m.elems = append(m.elems, s)
	}
	return nil
}

func (m *module) decodeCode(r *reader) error {
	n, err := r.count(2)
	if err != nil {
		return err
	}
	if n != len(m.funcTypes)-m.numImpFunc {
		return r.errorf("%d bodies for %d functions", n, len(m.funcTypes)-m.numImpFunc)
	}
	m.codes = make([]codeEntry, 0, n)
	for i := 0; i < n; i++ {
		size, err := r.u32()
		if err != nil {
			return err
		}
		if int(size) > r.end-r.pos || size == 0 {
			return r.errorf("function body %d: size %d invalid", i, size)
		}
		c := codeEntry{start: r.pos, end: r.pos + int(size)}
		br := &reader{buf: r.buf, pos: r.pos, end: c.end, section: "code"}
		groups, err := br.count(2)
		if err != nil {
			return err
		}
		for g := 0; g < groups; g++ {
			k, err := br.u32()
			if err != nil {
				return err
			}
			if _, err := m.valType(br); err != nil {
				return err
			}
			c.numLocals += uint64(k)
		}
		if c.numLocals > maxLocals {
			// Engines allocate per declared local: wazero would take 4 GB for
			// a function declaring 2^32 in a few bytes. Browsers cap at 50000.
			return br.errorf("function body %d declares %d locals, more than the %d allowed", i, c.numLocals, maxLocals)
		}
		c.body = br.pos
		m.codes = append(m.codes, c)
		r.pos = c.end
	}
	return nil
}

func (m *module) decodeData(r *reader) error {
	n, err := r.count(1)
	if err != nil {
		return err
	}
	m.numData = n
	for i := 0; i < n; i++ {
		at := r.pos
		flags, err := r.u32()
		if err != nil {
			return err
		}
		switch flags {
		case 0:
		case 1:
			m.feats.add(featBulkMemory)
		case 2:
			m.feats.add(featBulkMemory)
			memAt := r.pos
			mem, err := r.u32()
			if err != nil {
				return err
			}
			if mem != 0 {
				if err := m.use(featMultiMemory, memAt); err != nil {
					return err
				}
			}
		default:
			r.pos = at
			return r.errorf("invalid data segment flags %d", flags)
		}
		seg := dataSegment{}
		var mem uint32
		if flags == 2 {
			// Read again: decoded and checked above.
			rr := reader{buf: r.buf, pos: at, end: r.end}
			rr.u32()
			mem, _ = rr.u32()
		}
		if flags != 1 {
			e, err := m.constExpr(r)
			if err != nil {
				return err
			}
			if e.op == opI32Const && mem == 0 {
				cr := reader{buf: e.raw, end: len(e.raw), pos: 1}
				if off, err := cr.s32(); err == nil && len(e.raw) == cr.pos+1 {
					seg.active, seg.offset = true, uint32(off)
				}
			}
		}
		k, err := r.count(1)
		if err != nil {
			return err
		}
		if seg.init, err = r.bytes(k); err != nil {
			return err
		}
		m.data = append(m.data, seg)
	}
	return nil
}

// maxDataGap is the longest run of zeros mergeData writes to join two data
// segments (see mergeData).
const maxDataGap = 1024

// mergeData returns the data section's payload with neighbouring segments
// merged, or nil to keep it as it is. Go's linker cuts its data wherever
// zeros are (44,706 segments for a small agent, ~34 bytes each), and an
// engine evaluates every segment's offset and copies it on every
// instantiation: a fresh instance per call pays that each time. Merging
// writes the zeros between two segments explicitly and may reorder the
// segments by offset, which changes nothing the module can observe, as long
// as:
//   - every segment is active in memory 0 at an i32.const offset (no
//     passive segment, so no memory.init or data.drop can name one; and a
//     module using those needs a data count section, which we also refuse);
//   - no two segments overlap, so each byte is written by one segment at
//     most, in any order, and the zeros written land where no segment
//     writes and fresh memory is zero already;
//   - the memory is the module's own, not imported: a segment out of bounds
//     fails the instantiation, and only an imported memory would let anyone
//     see which segments were written before it failed.
//
// Instantiation is not metered, so gas is unchanged.
func (m *module) mergeData() []byte {
	if m.hasDataCnt || m.numImpMem > 0 || len(m.data) < 2 {
		return nil
	}
	sorted := make([]dataSegment, len(m.data))
	copy(sorted, m.data)
	slices.SortStableFunc(sorted, func(a, b dataSegment) int { return cmp.Compare(a.offset, b.offset) })
	for i, d := range sorted {
		if !d.active || uint64(d.offset)+uint64(len(d.init)) > 1<<32 {
			return nil
		}
		if i > 0 {
			prev := sorted[i-1]
			if uint64(prev.offset)+uint64(len(prev.init)) > uint64(d.offset) {
				return nil
			}
		}
	}
	type run struct {
		offset uint32
		parts  []dataSegment
		size   int
	}
	var runs []run
	for _, d := range sorted {
		if n := len(runs); n > 0 {
			last := &runs[n-1]
			end := uint64(last.offset) + uint64(last.size)
			if gap := uint64(d.offset) - end; gap <= maxDataGap {
				last.parts = append(last.parts, d)
				last.size += int(gap) + len(d.init)
				continue
			}
		}
		runs = append(runs, run{offset: d.offset, parts: []dataSegment{d}, size: len(d.init)})
	}
	if len(runs) == len(m.data) {
		return nil
	}
	b := appendU32(nil, uint32(len(runs)))
	for _, rn := range runs {
		b = append(b, 0) // active, memory 0
		b = append(b, opI32Const)
		b = appendS32(b, int32(rn.offset))
		b = append(b, opEnd)
		b = appendU32(b, uint32(rn.size))
		at := rn.offset
		for _, p := range rn.parts {
			for ; at < p.offset; at++ {
				b = append(b, 0)
			}
			b = append(b, p.init...)
			at += uint32(len(p.init))
		}
	}
	return b
}
