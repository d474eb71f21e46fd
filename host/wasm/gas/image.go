package gas

import (
	"fmt"
	"strings"
)

// CheckImage says whether an instrumented module's instances may start from
// an image of another instance's state, taken after its initialisation,
// instead of being initialised themselves: nil when every part of an
// instance's state a host can neither read nor set is fixed by the module
// alone. That holds when the module
//   - defines its one memory (an imported memory is shared state), whose
//     contents and size a host reads and sets;
//   - has no start function (it would run before the image is in place);
//   - has only active data segments and no data count section (so no
//     memory.init or data.drop: which segments were dropped is state);
//   - never changes a table (no table.set, table.grow, table.fill,
//     table.copy, table.init or elem.drop) and imports none: a table then
//     holds what its element segments put there;
//   - imports no mutable global;
//   - exports its mutable globals (Options.ExportGlobals), which a host
//     reads and sets.
//
// The error names the first condition that fails.
func CheckImage(instrumented []byte) error {
	m, err := decodeModule(instrumented, false)
	if err != nil {
		return fmt.Errorf("gas: check image: %w", err)
	}
	if len(m.mems) != 1 || m.numImpMem != 0 {
		return fmt.Errorf("the module does not define exactly one memory of its own")
	}
	if m.hasStart {
		return fmt.Errorf("the module has a start function")
	}
	if m.hasDataCnt {
		return fmt.Errorf("the module has a data count section (memory.init or data.drop)")
	}
	for i, d := range m.data {
		if !d.active {
			return fmt.Errorf("data segment %d is passive or not at a constant offset", i)
		}
	}
	for _, im := range m.imports {
		switch {
		case im.kind == kindTable:
			return fmt.Errorf("the module imports a table (%s.%s)", im.module, im.name)
		case im.kind == kindGlobal && im.global.mutable:
			return fmt.Errorf("the module imports a mutable global (%s.%s)", im.module, im.name)
		}
	}
	exported := map[uint32]bool{}
	for _, e := range m.exports {
		if e.kind == kindGlobal && len(e.name) > len(GlobalExportPrefix) && e.name[:len(GlobalExportPrefix)] == GlobalExportPrefix {
			exported[e.idx] = true
		}
	}
	for i, g := range m.globals {
		idx := uint32(m.numImpGlob + i)
		if !g.typ.mutable {
			continue
		}
		if !exported[idx] {
			return fmt.Errorf("mutable global %d is not exported (instrument with ExportGlobals)", idx)
		}
		if g.typ.val != valI32 && g.typ.val != valI64 && g.typ.val != valF32 && g.typ.val != valF64 {
			return fmt.Errorf("mutable global %d holds a reference, which a host cannot copy between instances", idx)
		}
	}
	d := &bodyDecoder{m: m}
	for fi, c := range m.codes {
		if err := d.decode(c); err != nil {
			return fmt.Errorf("gas: check image: function %d: %w", fi, err)
		}
		for _, in := range d.instrs {
			switch in.op {
			case 0x26 /* table.set */, 0x100 | 12, 0x100 | 13, 0x100 | 14, 0x100 | 15, 0x100 | 17:
				return fmt.Errorf("function %d changes a table", m.numImpFunc+fi)
			case 0x100 | 8, 0x100 | 9:
				return fmt.Errorf("function %d uses memory.init or data.drop", m.numImpFunc+fi)
			}
		}
	}
	return nil
}

// ImageGlobals lists the names under which an instrumented module exports
// its mutable globals (Options.ExportGlobals), for a host that copies them
// between instances. It reads the sections, not the function bodies.
func ImageGlobals(instrumented []byte) ([]string, error) {
	m, err := decodeModule(instrumented, false)
	if err != nil {
		return nil, fmt.Errorf("gas: image globals: %w", err)
	}
	var names []string
	for _, e := range m.exports {
		if e.kind == kindGlobal && strings.HasPrefix(e.name, GlobalExportPrefix) {
			names = append(names, e.name)
		}
	}
	return names, nil
}
