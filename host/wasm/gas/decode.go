package gas

// Module-level decoding: the header, the sections and everything in them but
// function bodies (body.go decodes those).

// Section ids.
const (
	secCustom    = 0
	secType      = 1
	secImport    = 2
	secFunction  = 3
	secTable     = 4
	secMemory    = 5
	secGlobal    = 6
	secExport    = 7
	secStart     = 8
	secElement   = 9
	secCode      = 10
	secData      = 11
	secDataCount = 12
	secTag       = 13
)

// External kinds of imports and exports.
const (
	kindFunc   = 0
	kindTable  = 1
	kindMemory = 2
	kindGlobal = 3
	kindTag    = 4
)

var sectionNames = [...]string{"custom", "type", "import", "function", "table", "memory", "global", "export", "start", "element", "code", "data", "data count", "tag"}

// sectionRank gives the position a known section must keep in a module.
var sectionRank = [...]int{secType: 1, secImport: 2, secFunction: 3, secTable: 4, secMemory: 5, secTag: 6, secGlobal: 7, secExport: 8, secStart: 9, secElement: 10, secDataCount: 11, secCode: 12, secData: 13}

type funcType struct {
	params, results []byte
}

// key identifies a function type: value types are single bytes here.
func (t funcType) key() string {
	return string(t.params) + "\x00" + string(t.results)
}

type limits struct {
	min, max uint64
	hasMax   bool
	shared   bool
}

type tableType struct {
	elem byte
	lim  limits
}

type globalType struct {
	val     byte
	mutable bool
}

type importEntry struct {
	module, name string
	kind         byte
	typeIdx      uint32 // kindFunc
	table        tableType
	mem          limits
	global       globalType
}

// constExpr is a constant expression: one instruction and end. raw holds its
// bytes, end included.
type constExpr struct {
	op  byte
	idx uint32 // of ref.func and global.get
	raw []byte
}

type global struct {
	typ  globalType
	init constExpr
}

type export struct {
	name string
	kind byte
	idx  uint32
}

type elemSegment struct {
	flags  uint32
	table  uint32
	offset constExpr
	kind   byte // elemkind or reftype, for the forms that carry one
	funcs  []uint32
	exprs  []constExpr
}

type codeEntry struct {
	start, body, end int // absolute: the locals, the first instruction, the end
	numLocals        uint64
}

type section struct {
	id         byte
	start, end int // payload
	name       string
}

// module is a decoded module. Slices of bytes alias the input.
type module struct {
	buf      []byte
	lenient  bool
	feats    features
	sections []section

	types      []funcType
	imports    []importEntry
	funcTypes  []uint32 // type of every function, imported first
	numImpFunc int
	tables     []tableType // imported first
	mems       []limits    // imported first
	numImpMem  int
	globTypes  []globalType // imported first
	numImpGlob int
	globals    []global // defined
	exports    []export
	hasStart   bool
	start      uint32
	elems      []elemSegment
	hasDataCnt bool
	dataCount  uint32
	codes      []codeEntry
	numData    int
	data       []dataSegment // the data section's segments, decoded
}

// dataSegment is one data segment: active ones at a constant offset in
// memory 0 are the ones mergeData may merge.
type dataSegment struct {
	active bool   // active in memory 0 at offset (an i32.const)
	offset uint32 // as the engine reads it (the s32 taken as unsigned)
	init   []byte // the bytes, a sub-slice of the module
}

// use records that the module uses feature f at offset at; in strict mode an
// unsupported feature is an error.
func (m *module) use(f feature, at int) error {
	m.feats.add(f)
	if !m.lenient && !f.supported() {
		return &UnsupportedFeatureError{Feature: f.String(), Offset: at}
	}
	return nil
}

// decodeModule decodes everything but function bodies. In lenient mode an
// unsupported feature is recorded and decoding goes on where it can.
func decodeModule(buf []byte, lenient bool) (*module, error) {
	m := &module{buf: buf, lenient: lenient}
	m.feats.add(featMVP)
	r := &reader{buf: buf, end: len(buf), section: "header"}
	if len(buf) < 8 || string(buf[:4]) != "\x00asm" {
		return nil, r.errorf("not a WebAssembly module (bad magic)")
	}
	if string(buf[4:8]) != "\x01\x00\x00\x00" {
		return nil, r.errorf("unsupported binary version % x (a component, or a future format?)", buf[4:8])
	}
	r.pos = 8
	lastRank := 0
	for !r.eof() {
		r.section = "header"
		id, err := r.byte()
		if err != nil {
			return nil, err
		}
		size, err := r.u32()
		if err != nil {
			return nil, err
		}
		if int(size) > r.end-r.pos {
			return nil, r.errorf("section %d of %d bytes overruns the module", id, size)
		}
		s := section{id: id, start: r.pos, end: r.pos + int(size)}
		if int(id) >= len(sectionNames) {
			return nil, r.errorf("unknown section id %d", id)
		}
		if id != secCustom {
			rank := sectionRank[id]
			if rank <= lastRank {
				return nil, r.errorf("%s section out of order or repeated", sectionNames[id])
			}
			lastRank = rank
		}
		sr := &reader{buf: buf, pos: s.start, end: s.end, section: sectionNames[id]}
		if err := m.decodeSection(sr, &s); err != nil {
			return nil, err
		}
		if !sr.eof() {
			return nil, sr.errorf("%d trailing bytes", sr.end-sr.pos)
		}
		m.sections = append(m.sections, s)
		r.pos = s.end
	}
	if n := len(m.funcTypes) - m.numImpFunc; n != len(m.codes) {
		return nil, &DecodeError{Section: "code", Offset: len(buf), Detail: "function and code section counts differ"}
	}
	if m.hasDataCnt && int(m.dataCount) != m.numData {
		return nil, &DecodeError{Section: "data count", Offset: len(buf), Detail: "data count and data section counts differ"}
	}
	if m.hasStart && int(m.start) >= len(m.funcTypes) {
		return nil, &DecodeError{Section: "start", Offset: len(buf), Detail: "start function index out of range"}
	}
	return m, nil
}

func (m *module) decodeSection(r *reader, s *section) error {
	switch s.id {
	case secCustom:
		name, err := r.name()
		if err != nil {
			return err
		}
		s.name = name
		r.pos = r.end
		return nil
	case secType:
		return m.decodeTypes(r)
	case secImport:
		return m.decodeImports(r)
	case secFunction:
		n, err := r.count(1)
		if err != nil {
			return err
		}
		for i := 0; i < n; i++ {
			t, err := m.typeIndex(r)
			if err != nil {
				return err
			}
			m.funcTypes = append(m.funcTypes, t)
		}
		return nil
	case secTable:
		n, err := r.count(2)
		if err != nil {
			return err
		}
		for i := 0; i < n; i++ {
			t, err := m.tableType(r)
			if err != nil {
				return err
			}
			m.tables = append(m.tables, t)
		}
		if len(m.tables) > 1 {
			m.feats.add(featReferenceTypes)
		}
		return nil
	case secMemory:
		n, err := r.count(2)
		if err != nil {
			return err
		}
		for i := 0; i < n; i++ {
			l, err := m.limits(r, true)
			if err != nil {
				return err
			}
			m.mems = append(m.mems, l)
		}
		if len(m.mems) > 1 {
			return m.use(featMultiMemory, s.start)
		}
		return nil
	case secTag:
		if err := m.use(featExceptions, s.start); err != nil {
			return err
		}
		r.pos = r.end
		return nil
	case secGlobal:
		n, err := r.count(3)
		if err != nil {
			return err
		}
		for i := 0; i < n; i++ {
			gt, err := m.globalType(r)
			if err != nil {
				return err
			}
			e, err := m.constExpr(r)
			if err != nil {
				return err
			}
			m.globals = append(m.globals, global{typ: gt, init: e})
			m.globTypes = append(m.globTypes, gt)
		}
		return nil
	case secExport:
		return m.decodeExports(r)
	case secStart:
		idx, err := r.u32()
		if err != nil {
			return err
		}
		m.hasStart, m.start = true, idx
		return nil
	case secElement:
		return m.decodeElements(r)
	case secDataCount:
		n, err := r.u32()
		if err != nil {
			return err
		}
		m.hasDataCnt, m.dataCount = true, n
		m.feats.add(featBulkMemory)
		return nil
	case secCode:
		return m.decodeCode(r)
	case secData:
		return m.decodeData(r)
	}
	return r.errorf("unknown section id %d", s.id)
}

func (m *module) typeIndex(r *reader) (uint32, error) {
	at := r.pos
	t, err := r.u32()
	if err != nil {
		return 0, err
	}
	if int(t) >= len(m.types) {
		r.pos = at
		return 0, r.errorf("type index %d out of range", t)
	}
	return t, nil
}

// valType reads a value type.
func (m *module) valType(r *reader) (byte, error) {
	at := r.pos
	b, err := r.byte()
	if err != nil {
		return 0, err
	}
	return b, m.checkValType(r, b, at)
}

func (m *module) checkValType(r *reader, b byte, at int) error {
	switch b {
	case valI32, valI64, valF32, valF64:
		return nil
	case valV128:
		return m.use(featSIMD, at)
	case valFuncref, valExternref:
		m.feats.add(featReferenceTypes)
		return nil
	case 0x63, 0x64: // (ref null ht), (ref ht)
		m.feats.add(featFuncRefs)
		return &UnsupportedFeatureError{Feature: featFuncRefs.String(), Offset: at}
	case 0x69, 0x74: // exnref, nullexnref
		m.feats.add(featExceptions)
		return &UnsupportedFeatureError{Feature: featExceptions.String(), Offset: at}
	case 0x6a, 0x6b, 0x6c, 0x6d, 0x6e, 0x71, 0x72, 0x73: // GC abstract reference types
		m.feats.add(featGC)
		return &UnsupportedFeatureError{Feature: featGC.String(), Offset: at}
	}
	r.pos = at
	return r.errorf("invalid value type 0x%02x", b)
}

func (m *module) decodeTypes(r *reader) error {
	n, err := r.count(3)
	if err != nil {
		return err
	}
	m.types = make([]funcType, 0, n)
	for i := 0; i < n; i++ {
		at := r.pos
		form, err := r.byte()
		if err != nil {
			return err
		}
		if form != 0x60 {
			if form == 0x4e || form == 0x4f || form == 0x50 || form == 0x5e || form == 0x5f {
				m.feats.add(featGC)
				return &UnsupportedFeatureError{Feature: featGC.String(), Offset: at}
			}
			r.pos = at
			return r.errorf("invalid type form 0x%02x", form)
		}
		var t funcType
		for j := 0; j < 2; j++ {
			k, err := r.count(1)
			if err != nil {
				return err
			}
			start := r.pos
			for x := 0; x < k; x++ {
				if _, err := m.valType(r); err != nil {
					return err
				}
			}
			if j == 0 {
				t.params = r.buf[start:r.pos]
			} else {
				t.results = r.buf[start:r.pos]
			}
		}
		if len(t.results) > 1 {
			m.feats.add(featMultiValue)
		}
		m.types = append(m.types, t)
	}
	return nil
}

func (m *module) limits(r *reader, memory bool) (limits, error) {
	at := r.pos
	flags, err := r.byte()
	if err != nil {
		return limits{}, err
	}
	var l limits
	if flags&^0x0f != 0 || (!memory && flags&^0x05 != 0) {
		r.pos = at
		return l, r.errorf("invalid limits flags 0x%02x", flags)
	}
	if flags&0x02 != 0 {
		l.shared = true
		if err := m.use(featThreads, at); err != nil {
			return l, err
		}
	}
	is64 := flags&0x04 != 0
	if is64 {
		if err := m.use(featMemory64, at); err != nil {
			return l, err
		}
	}
	read := func() (uint64, error) {
		if is64 {
			return r.u64()
		}
		v, err := r.u32()
		return uint64(v), err
	}
	if l.min, err = read(); err != nil {
		return l, err
	}
	if flags&0x01 != 0 {
		l.hasMax = true
		if l.max, err = read(); err != nil {
			return l, err
		}
	}
	if flags&0x08 != 0 {
		if err := m.use(featCustomPageSizes, at); err != nil {
			return l, err
		}
		if _, err := r.u32(); err != nil {
			return l, err
		}
	}
	return l, nil
}

func (m *module) tableType(r *reader) (tableType, error) {
	at := r.pos
	elem, err := r.byte()
	if err != nil {
		return tableType{}, err
	}
	if elem == 0x40 { // table with an initialiser expression
		m.feats.add(featFuncRefs)
		return tableType{}, &UnsupportedFeatureError{Feature: featFuncRefs.String(), Offset: at}
	}
	switch elem {
	case valFuncref:
	case valExternref:
		m.feats.add(featReferenceTypes)
	default:
		if err := m.checkValType(r, elem, at); err != nil {
			return tableType{}, err
		}
		r.pos = at
		return tableType{}, r.errorf("table element type 0x%02x is not a reference type", elem)
	}
	l, err := m.limits(r, false)
	return tableType{elem: elem, lim: l}, err
}

func (m *module) globalType(r *reader) (globalType, error) {
	v, err := m.valType(r)
	if err != nil {
		return globalType{}, err
	}
	mut, err := r.byte()
	if err != nil {
		return globalType{}, err
	}
	if mut > 1 {
		r.pos--
		return globalType{}, r.errorf("invalid mutability 0x%02x", mut)
	}
	return globalType{val: v, mutable: mut == 1}, nil
}

func (m *module) decodeImports(r *reader) error {
	n, err := r.count(4)
	if err != nil {
		return err
	}
	for i := 0; i < n; i++ {
		var im importEntry
		if im.module, err = r.name(); err != nil {
			return err
		}
		if im.name, err = r.name(); err != nil {
			return err
		}
		at := r.pos
		if im.kind, err = r.byte(); err != nil {
			return err
		}
		switch im.kind {
		case kindFunc:
			if im.typeIdx, err = m.typeIndex(r); err != nil {
				return err
			}
			m.funcTypes = append(m.funcTypes, im.typeIdx)
			m.numImpFunc++
		case kindTable:
			if im.table, err = m.tableType(r); err != nil {
				return err
			}
			m.tables = append(m.tables, im.table)
		case kindMemory:
			if im.mem, err = m.limits(r, true); err != nil {
				return err
			}
			m.mems = append(m.mems, im.mem)
			m.numImpMem++
			if len(m.mems) > 1 {
				if err := m.use(featMultiMemory, at); err != nil {
					return err
				}
			}
		case kindGlobal:
			if im.global, err = m.globalType(r); err != nil {
				return err
			}
			if im.global.mutable {
				m.feats.add(featMutableGlobals)
			}
			m.globTypes = append(m.globTypes, im.global)
			m.numImpGlob++
		case kindTag:
			if err := m.use(featExceptions, at); err != nil {
				return err
			}
			if _, err := r.byte(); err != nil { // attribute
				return err
			}
			if _, err := m.typeIndex(r); err != nil {
				return err
			}
		default:
			r.pos = at
			return r.errorf("invalid import kind 0x%02x", im.kind)
		}
		m.imports = append(m.imports, im)
	}
	if len(m.tables) > 1 {
		m.feats.add(featReferenceTypes)
	}
	return nil
}

func (m *module) decodeExports(r *reader) error {
	n, err := r.count(3)
	if err != nil {
		return err
	}
	seen := make(map[string]struct{}, n)
	for i := 0; i < n; i++ {
		var e export
		at := r.pos
		if e.name, err = r.name(); err != nil {
			return err
		}
		if _, dup := seen[e.name]; dup {
			r.pos = at
			return r.errorf("duplicate export name %q", e.name)
		}
		seen[e.name] = struct{}{}
		kindAt := r.pos
		if e.kind, err = r.byte(); err != nil {
			return err
		}
		if e.idx, err = r.u32(); err != nil {
			return err
		}
		var limit int
		switch e.kind {
		case kindFunc:
			limit = len(m.funcTypes)
		case kindTable:
			limit = len(m.tables)
		case kindMemory:
			limit = len(m.mems)
		case kindGlobal:
			limit = len(m.globTypes)
			if int(e.idx) < limit && m.globTypes[e.idx].mutable {
				m.feats.add(featMutableGlobals)
			}
		case kindTag:
			if err := m.use(featExceptions, kindAt); err != nil {
				return err
			}
			limit = 1 << 32
		default:
			r.pos = kindAt
			return r.errorf("invalid export kind 0x%02x", e.kind)
		}
		if int(e.idx) >= limit {
			r.pos = kindAt
			return r.errorf("export %q: index %d out of range", e.name, e.idx)
		}
		m.exports = append(m.exports, e)
	}
	return nil
}
