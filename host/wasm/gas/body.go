package gas

// Function body decoding: every instruction with its immediates, into a
// compact list the metering and rewriting passes walk.

// instr is one decoded instruction. Its bytes run from pos to the next
// instruction's pos (or the end of the body).
type instr struct {
	pos uint32 // absolute offset of the opcode
	op  uint16 // the opcode; 0x100|sub for the 0xFC-prefixed ones
	arg uint32 // label, function index, or index into bodyDecoder.targets for br_table
}

func (in instr) info() *opInfo {
	if in.op >= 0x100 {
		return &miscOps[in.op&0xff]
	}
	return &ops[in.op]
}

// bodyDecoder decodes function bodies, reusing its buffers from one body to
// the next.
type bodyDecoder struct {
	m        *module
	instrs   []instr
	targets  []uint32 // br_table: count, then count labels (the default last)
	ctl      []byte   // opcodes of the open blocks
	hasCalls bool     // the body contains call or call_indirect
}

// decode decodes the instructions of body c. In lenient mode (Inspect) it
// records unsupported features and goes on where their immediates are known.
func (d *bodyDecoder) decode(c codeEntry) error {
	m := d.m
	r := reader{buf: m.buf, pos: c.body, end: c.end, section: "code"}
	d.instrs = d.instrs[:0]
	d.targets = d.targets[:0]
	d.ctl = d.ctl[:0]
	d.hasCalls = false
	nfuncs := uint32(len(m.funcTypes))
	for {
		if r.pos >= r.end {
			return r.errorf("function body ends before its end instruction")
		}
		at := r.pos
		op := r.buf[r.pos]
		r.pos++
		in := instr{pos: uint32(at), op: uint16(op)}
		var info *opInfo
		switch op {
		case opPrefixMisc:
			sub, err := r.u32()
			if err != nil {
				return err
			}
			if sub >= uint32(len(miscOps)) || !miscOps[sub].valid {
				r.pos = at
				return r.errorf("unknown opcode 0xfc %d", sub)
			}
			info = &miscOps[sub]
			in.op = 0x100 | uint16(sub)
		case opPrefixSIMD:
			if err := d.simd(&r, at); err != nil {
				return err
			}
			continue
		case opPrefixAtomic:
			if err := d.atomic(&r, at); err != nil {
				return err
			}
			continue
		case opPrefixGC:
			m.feats.add(featGC)
			return &UnsupportedFeatureError{Feature: featGC.String(), Offset: at}
		default:
			info = &ops[op]
			if !info.valid {
				r.pos = at
				return r.errorf("unknown opcode 0x%02x", op)
			}
		}
		if info.feat != featMVP {
			if err := m.use(info.feat, at); err != nil {
				return err
			}
		}
		var err error
		switch info.imm {
		case immNone:
		case immBlockType:
			err = d.blockType(&r)
		case immLabel:
			labelAt := r.pos
			if in.arg, err = r.u32(); err == nil && int(in.arg) > len(d.ctl) {
				r.pos = labelAt
				err = r.errorf("branch label %d out of range", in.arg)
			}
		case immBrTable:
			in.arg = uint32(len(d.targets))
			var n int
			if n, err = r.count(1); err == nil {
				d.targets = append(d.targets, uint32(n+1))
				for i := 0; i <= n && err == nil; i++ {
					var l uint32
					labelAt := r.pos
					if l, err = r.u32(); err == nil && int(l) > len(d.ctl) {
						r.pos = labelAt
						err = r.errorf("branch label %d out of range", l)
					}
					d.targets = append(d.targets, l)
				}
			}
		case immFunc:
			idxAt := r.pos
			if in.arg, err = r.u32(); err == nil && in.arg >= nfuncs {
				r.pos = idxAt
				err = r.errorf("function index %d out of range", in.arg)
			}
		case immCallIndirect:
			if in.arg, err = m.typeIndex(&r); err == nil {
				var table uint32
				idxAt := r.pos
				if table, err = r.u32(); err == nil {
					if int(table) >= len(m.tables) {
						r.pos = idxAt
						err = r.errorf("table index %d out of range", table)
					} else if table != 0 {
						m.feats.add(featReferenceTypes)
					}
				}
			}
		case immIndex:
			in.arg, err = r.u32()
		case immMemarg:
			err = d.memarg(&r)
		case immMemIdx:
			err = d.memIdx(&r)
		case immI32:
			_, err = r.s32()
		case immI64:
			_, err = r.s64()
		case immF32:
			_, err = r.bytes(4)
		case immF64:
			_, err = r.bytes(8)
		case immHeapType:
			err = m.heapType(&r)
		case immSelectT:
			var n int
			if n, err = r.count(1); err == nil {
				for i := 0; i < n && err == nil; i++ {
					_, err = m.valType(&r)
				}
			}
		case immIndex2:
			err = d.index2(&r, in.op)
		case immTryTable:
			err = d.tryTable(&r)
		}
		if err != nil {
			return err
		}
		switch op {
		case opBlock, opLoop, opIf, 0x06, 0x1f: // block, loop, if, try, try_table
			d.ctl = append(d.ctl, op)
		case opElse:
			if len(d.ctl) == 0 || d.ctl[len(d.ctl)-1] != opIf {
				r.pos = at
				return r.errorf("else outside if")
			}
			d.ctl[len(d.ctl)-1] = opElse
		case 0x18: // delegate ends a try
			if len(d.ctl) == 0 {
				r.pos = at
				return r.errorf("delegate outside try")
			}
			d.ctl = d.ctl[:len(d.ctl)-1]
		case opEnd:
			if len(d.ctl) == 0 {
				d.instrs = append(d.instrs, in)
				if r.pos != r.end {
					return r.errorf("%d bytes after the function's end", r.end-r.pos)
				}
				return nil
			}
			d.ctl = d.ctl[:len(d.ctl)-1]
		case opCall, opCallIndirect:
			d.hasCalls = true
		}
		d.instrs = append(d.instrs, in)
	}
}

func (d *bodyDecoder) blockType(r *reader) error {
	at := r.pos
	if r.pos >= r.end {
		return r.errorf("unexpected end in block type")
	}
	b := r.buf[r.pos]
	if b == blockEmpty {
		r.pos++
		return nil
	}
	if b&0xc0 == 0x40 { // a one-byte negative s33: a value type
		r.pos++
		return d.m.checkValType(r, b, at)
	}
	t, err := r.s33()
	if err != nil {
		return err
	}
	if t < 0 || t >= int64(len(d.m.types)) {
		r.pos = at
		return r.errorf("invalid block type %d", t)
	}
	d.m.feats.add(featMultiValue)
	return nil
}

func (d *bodyDecoder) memarg(r *reader) error {
	at := r.pos
	align, err := r.u32()
	if err != nil {
		return err
	}
	if align&0x40 != 0 {
		if err := d.m.use(featMultiMemory, at); err != nil {
			return err
		}
		if _, err := r.u32(); err != nil {
			return err
		}
	}
	if d.m.feats.has(featMemory64) {
		_, err = r.u64()
	} else {
		_, err = r.u32()
	}
	return err
}

func (d *bodyDecoder) memIdx(r *reader) error {
	at := r.pos
	mem, err := r.u32()
	if err != nil {
		return err
	}
	if mem != 0 {
		return d.m.use(featMultiMemory, at)
	}
	return nil
}

func (d *bodyDecoder) index2(r *reader, op uint16) error {
	first, err := r.u32()
	if err != nil {
		return err
	}
	at := r.pos
	second, err := r.u32()
	if err != nil {
		return err
	}
	switch op & 0xff {
	case 8: // memory.init data mem
		if second != 0 {
			return d.m.use(featMultiMemory, at)
		}
	case 10: // memory.copy mem mem
		if first != 0 || second != 0 {
			return d.m.use(featMultiMemory, at)
		}
	case 12, 14: // table.init elem table, table.copy table table
		if second != 0 || (op&0xff == 14 && first != 0) {
			d.m.feats.add(featReferenceTypes)
		}
	}
	return nil
}

func (d *bodyDecoder) tryTable(r *reader) error {
	if err := d.blockType(r); err != nil {
		return err
	}
	n, err := r.count(2)
	if err != nil {
		return err
	}
	for i := 0; i < n; i++ {
		kind, err := r.byte()
		if err != nil {
			return err
		}
		if kind > 3 {
			r.pos--
			return r.errorf("invalid catch kind %d", kind)
		}
		if kind < 2 { // catch and catch_ref name a tag
			if _, err := r.u32(); err != nil {
				return err
			}
		}
		if _, err := r.u32(); err != nil { // label
			return err
		}
	}
	return nil
}

// simd decodes a 0xFD-prefixed instruction: always an unsupported feature, but
// Inspect goes on past it.
func (d *bodyDecoder) simd(r *reader, at int) error {
	sub, err := r.u32()
	if err != nil {
		return err
	}
	memarg, lane, bytes16, ok := simdImm(sub)
	if !ok {
		r.pos = at
		return r.errorf("unknown opcode 0xfd %d", sub)
	}
	f := featSIMD
	if sub >= 0x100 {
		f = featRelaxedSIMD
	}
	if err := d.m.use(f, at); err != nil {
		return err
	}
	if memarg {
		if err := d.memarg(r); err != nil {
			return err
		}
	}
	if lane {
		if _, err := r.byte(); err != nil {
			return err
		}
	}
	if bytes16 {
		if _, err := r.bytes(16); err != nil {
			return err
		}
	}
	return nil
}

// atomic decodes a 0xFE-prefixed instruction (threads).
func (d *bodyDecoder) atomic(r *reader, at int) error {
	sub, err := r.u32()
	if err != nil {
		return err
	}
	memarg, fence, ok := atomicImm(sub)
	if !ok {
		r.pos = at
		return r.errorf("unknown opcode 0xfe %d", sub)
	}
	if err := d.m.use(featThreads, at); err != nil {
		return err
	}
	if memarg {
		return d.memarg(r)
	}
	if fence {
		if _, err := r.byte(); err != nil {
			return err
		}
	}
	return nil
}
