package gas

import (
	"errors"
	"fmt"
	"strings"
)

// ModuleInfo is what Inspect reports about a module.
type ModuleInfo struct {
	Imports  []Import
	Exports  []Export
	Memories []Memory // imported first, as in the memory index space
	Tables   []Table  // imported first
	// Functions counts the functions the module defines (not imports).
	Functions int
	// Start is true when the module has a start function.
	Start bool
	// Features lists the WebAssembly features the module uses, in a fixed
	// order: "mvp" first, then e.g. "mutable-globals", "sign-extension",
	// "saturating-float-to-int", "bulk-memory", "multi-value",
	// "reference-types", and any unsupported ones ("simd", "threads", ...).
	Features []string
	// Unsupported lists the features in Features that Instrument refuses.
	Unsupported []string
	// CustomSections lists the names of the custom sections, in order.
	CustomSections []string
}

// Import is one import of a module.
type Import struct {
	Module, Name string
	Kind         string // "func", "table", "memory", "global" or "tag"
	Signature    string // e.g. "func(i32, i32) -> i64", "mut i64", "memory 1..16"
}

// Export is one export of a module.
type Export struct {
	Name      string
	Kind      string // "func", "table", "memory", "global" or "tag"
	Signature string
}

// Memory is one linear memory.
type Memory struct {
	MinPages uint64
	MaxPages uint64 // meaningful when HasMax
	HasMax   bool
	Shared   bool
	Imported bool
}

// Table is one table.
type Table struct {
	Elem     string // "funcref" or "externref"
	Min      uint64
	Max      uint64
	HasMax   bool
	Imported bool
}

// Inspect decodes a module without rewriting it. Unlike Instrument it does
// not stop at unsupported features it can decode past: it lists them.
func Inspect(module []byte) (*ModuleInfo, error) { return inspect(module, true) }

// InspectInterface is Inspect without decoding the functions' bodies (most
// of a module, and of Inspect's time): what the module imports and exports,
// its memories, tables and sections. Features and Unsupported are left
// empty (the bodies say most of them); Instrument still refuses what it
// cannot meter.
func InspectInterface(module []byte) (*ModuleInfo, error) { return inspect(module, false) }

func inspect(module []byte, bodies bool) (*ModuleInfo, error) {
	m, err := decodeModule(module, true)
	if err != nil {
		return nil, fmt.Errorf("gas: inspect: %w", err)
	}
	info := &ModuleInfo{Functions: len(m.codes), Start: m.hasStart}
	if bodies {
		d := &bodyDecoder{m: m}
		for i, c := range m.codes {
			if err := d.decode(c); err != nil {
				var ufe *UnsupportedFeatureError
				if errors.As(err, &ufe) {
					continue // recorded in m.feats; skip the rest of this body
				}
				return nil, fmt.Errorf("gas: inspect: function %d: %w", m.numImpFunc+i, err)
			}
		}
		info.Features, info.Unsupported = m.feats.names(), m.feats.unsupported().names()
	}
	for _, s := range m.sections {
		if s.id == secCustom {
			info.CustomSections = append(info.CustomSections, s.name)
		}
	}
	for _, im := range m.imports {
		x := Import{Module: im.module, Name: im.name, Kind: kindName(im.kind)}
		switch im.kind {
		case kindFunc:
			x.Signature = m.types[im.typeIdx].String()
		case kindTable:
			x.Signature = im.table.String()
			info.Tables = append(info.Tables, tableInfo(im.table, true))
		case kindMemory:
			x.Signature = "memory " + im.mem.String()
			info.Memories = append(info.Memories, memoryInfo(im.mem, true))
		case kindGlobal:
			x.Signature = im.global.String()
		case kindTag:
			x.Signature = "tag"
		}
		info.Imports = append(info.Imports, x)
	}
	numImpTables := len(info.Tables)
	for _, t := range m.tables[numImpTables:] {
		info.Tables = append(info.Tables, tableInfo(t, false))
	}
	for _, l := range m.mems[m.numImpMem:] {
		info.Memories = append(info.Memories, memoryInfo(l, false))
	}
	for _, e := range m.exports {
		x := Export{Name: e.name, Kind: kindName(e.kind)}
		switch e.kind {
		case kindFunc:
			x.Signature = m.types[m.funcTypes[e.idx]].String()
		case kindTable:
			x.Signature = m.tables[e.idx].String()
		case kindMemory:
			x.Signature = "memory " + m.mems[e.idx].String()
		case kindGlobal:
			x.Signature = m.globTypes[e.idx].String()
		case kindTag:
			x.Signature = "tag"
		}
		info.Exports = append(info.Exports, x)
	}
	return info, nil
}

func kindName(k byte) string {
	switch k {
	case kindFunc:
		return "func"
	case kindTable:
		return "table"
	case kindMemory:
		return "memory"
	case kindGlobal:
		return "global"
	case kindTag:
		return "tag"
	}
	return fmt.Sprintf("kind(%d)", k)
}

func valTypeName(v byte) string {
	switch v {
	case valI32:
		return "i32"
	case valI64:
		return "i64"
	case valF32:
		return "f32"
	case valF64:
		return "f64"
	case valV128:
		return "v128"
	case valFuncref:
		return "funcref"
	case valExternref:
		return "externref"
	}
	return fmt.Sprintf("type(0x%02x)", v)
}

func typeList(vs []byte) string {
	names := make([]string, len(vs))
	for i, v := range vs {
		names[i] = valTypeName(v)
	}
	return strings.Join(names, ", ")
}

// String formats a function type as "func(i32, i32) -> i64", or with several
// results "func(i32) -> (i32, i64)".
func (t funcType) String() string {
	s := "func(" + typeList(t.params) + ")"
	switch len(t.results) {
	case 0:
		return s
	case 1:
		return s + " -> " + valTypeName(t.results[0])
	}
	return s + " -> (" + typeList(t.results) + ")"
}

func (l limits) String() string {
	s := fmt.Sprintf("%d..", l.min)
	if l.hasMax {
		s += fmt.Sprint(l.max)
	}
	if l.shared {
		s += " shared"
	}
	return s
}

func (t tableType) String() string { return "table " + valTypeName(t.elem) + " " + t.lim.String() }

func (g globalType) String() string {
	if g.mutable {
		return "mut " + valTypeName(g.val)
	}
	return valTypeName(g.val)
}

func tableInfo(t tableType, imported bool) Table {
	return Table{Elem: valTypeName(t.elem), Min: t.lim.min, Max: t.lim.max, HasMax: t.lim.hasMax, Imported: imported}
}

func memoryInfo(l limits, imported bool) Memory {
	return Memory{MinPages: l.min, MaxPages: l.max, HasMax: l.hasMax, Shared: l.shared, Imported: imported}
}
