package gas

import "fmt"

// Assembling the output module: the original sections in their order, with
// the ones the instrumenter changes rebuilt and the ones it needs but the
// module lacks inserted where the format wants them.

// neededSections are the sections every instrumented module has, in order.
var neededSections = []byte{secType, secImport, secFunction, secGlobal, secExport, secElement, secCode}

func (in *instrumenter) assemble(code []byte) []byte {
	m := in.m
	decl := in.undeclaredThunks()
	present := map[byte]bool{}
	for _, s := range m.sections {
		present[s.id] = true
	}
	need := func(id byte) bool {
		return id != secElement || len(decl) > 0
	}
	out := make([]byte, 0, len(m.buf)+len(m.buf)/3+4096)
	out = append(out, m.buf[:8]...)
	var payload []byte
	insertBefore := func(rank int) {
		for _, id := range neededSections {
			if !present[id] && need(id) && sectionRank[id] < rank {
				payload = in.payload(payload[:0], id, nil, code, decl)
				out = appendSection(out, id, payload)
				present[id] = true
			}
		}
	}
	for i := range m.sections {
		s := &m.sections[i]
		if s.id == secCustom {
			if s.name == "name" {
				continue // function indices moved: drop the debug names
			}
			out = appendSection(out, secCustom, m.buf[s.start:s.end])
			continue
		}
		insertBefore(sectionRank[s.id])
		payload = in.payload(payload[:0], s.id, s, code, decl)
		out = appendSection(out, s.id, payload)
	}
	insertBefore(1 << 30)
	return out
}

// payload builds the payload of section id; s is the original section, or
// nil when the module had none.
func (in *instrumenter) payload(b []byte, id byte, s *section, code []byte, decl []uint32) []byte {
	m := in.m
	// rest returns the original entries after the vector count.
	rest := func() []byte {
		if s == nil {
			return nil
		}
		r := reader{buf: m.buf, pos: s.start, end: s.end}
		_, _ = r.u32() // decoded before: cannot fail
		return m.buf[r.pos:s.end]
	}
	switch id {
	case secType:
		b = appendU32(b, uint32(len(m.types)+len(in.newTypes)))
		b = append(b, rest()...)
		for _, t := range in.newTypes {
			b = appendFuncType(b, t)
		}
	case secImport:
		b = appendU32(b, uint32(len(m.imports)+4))
		b = append(b, rest()...)
		for _, im := range []struct {
			name string
			typ  uint32
		}{{ImportGet, in.tGet}, {ImportSet, in.tSet}, {ImportExhausted, in.tVoid}, {ImportTooDeep, in.tVoid}} {
			b = appendName(b, ImportModule)
			b = appendName(b, im.name)
			b = append(b, kindFunc)
			b = appendU32(b, im.typ)
		}
	case secFunction:
		b = appendU32(b, uint32(len(m.codes)+2+len(in.thunks)+len(in.wrapped)))
		b = append(b, rest()...)
		b = appendU32(b, in.tDyn)
		b = appendU32(b, in.tDyn)
		for _, f := range in.thunks {
			b = appendU32(b, m.funcTypes[f])
		}
		for _, f := range in.wrapped {
			b = appendU32(b, m.funcTypes[f])
		}
	case secGlobal:
		b = appendU32(b, uint32(len(m.globals)+2))
		for _, g := range m.globals {
			b = append(b, g.typ.val)
			if g.typ.mutable {
				b = append(b, 1)
			} else {
				b = append(b, 0)
			}
			b = appendConstExpr(b, g.init, in.value)
		}
		b = append(b, valI64, 1, opI64Const, 0, opEnd) // the remaining gas
		b = append(b, valI32, 1, opI32Const, 0, opEnd) // the call depth
	case secExport:
		var mutable []uint32 // defined mutable globals, ours included
		if in.exportGlobals {
			for i, g := range m.globals {
				if g.typ.mutable {
					mutable = append(mutable, uint32(len(m.globTypes)-len(m.globals)+i))
				}
			}
			mutable = append(mutable, in.gGas, in.gDepth)
		}
		b = appendU32(b, uint32(len(m.exports)+1+len(mutable)))
		for _, g := range mutable {
			b = appendName(b, fmt.Sprintf("%s%d", GlobalExportPrefix, g))
			b = append(b, kindGlobal)
			b = appendU32(b, g)
		}
		for _, e := range m.exports {
			b = appendName(b, e.name)
			b = append(b, e.kind)
			idx := e.idx
			if e.kind == kindFunc {
				if w, ok := in.wrapperOf[idx]; ok {
					idx = w
				}
			}
			b = appendU32(b, idx)
		}
		b = appendName(b, GasGlobalExport)
		b = append(b, kindGlobal)
		b = appendU32(b, in.gGas)
	case secStart:
		start := m.start
		if w, ok := in.wrapperOf[start]; ok {
			start = w
		}
		b = appendU32(b, start)
	case secElement:
		n := len(m.elems)
		if len(decl) > 0 {
			n++
		}
		b = appendU32(b, uint32(n))
		for _, seg := range m.elems {
			b = in.appendElem(b, seg)
		}
		if len(decl) > 0 {
			b = append(b, 3, 0) // declarative, elemkind funcref
			b = appendU32(b, uint32(len(decl)))
			for _, f := range decl {
				b = appendU32(b, f)
			}
		}
	case secCode:
		b = append(b, code...)
	case secData:
		if merged := m.mergeData(); merged != nil {
			return append(b, merged...)
		}
		b = append(b, m.buf[s.start:s.end]...)
	default: // table, memory, data count: unchanged
		b = append(b, m.buf[s.start:s.end]...)
	}
	return b
}

func (in *instrumenter) appendElem(b []byte, s elemSegment) []byte {
	b = appendU32(b, s.flags)
	active := s.flags&1 == 0
	if active && s.flags&2 != 0 {
		b = appendU32(b, s.table)
	}
	if active {
		b = append(b, s.offset.raw...)
	}
	if s.flags&3 != 0 {
		b = append(b, s.kind)
	}
	if s.flags&4 != 0 {
		b = appendU32(b, uint32(len(s.exprs)))
		for _, e := range s.exprs {
			b = appendConstExpr(b, e, in.value)
		}
		return b
	}
	b = appendU32(b, uint32(len(s.funcs)))
	for _, f := range s.funcs {
		b = appendU32(b, in.value(f))
	}
	return b
}
