package wasm

// The OPA wasm ABI imports its memory and its host functions from the module
// "env". wazero cannot export a memory from a host module, so each OPA
// instance gets its own tiny glue module, generated here: it defines the
// memory (with the policy module's minimum and the runtime's page limit as
// maximum), and re-exports the host functions it imports from opa_host.
// The policy module's "env" imports are resolved to that glue instance.

const opaHostModule = "opa_host"

// opaHostFuncs are the env functions of the OPA ABI, in the glue's order,
// with their number of i32 parameters and results.
var opaHostFuncs = []struct {
	name            string
	params, results int
}{
	{"opa_abort", 1, 0},
	{"opa_println", 1, 0},
	{"opa_builtin0", 2, 1},
	{"opa_builtin1", 3, 1},
	{"opa_builtin2", 4, 1},
	{"opa_builtin3", 5, 1},
	{"opa_builtin4", 6, 1},
}

// glueModule encodes the glue: types, imports, one memory, exports.
func glueModule(minPages, maxPages uint32) []byte {
	out := []byte{0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00}
	// Type section: one type per host function (they are all distinct).
	var types []byte
	types = appendULEB(types, uint32(len(opaHostFuncs)))
	for _, f := range opaHostFuncs {
		types = append(types, 0x60)
		types = appendULEB(types, uint32(f.params))
		for i := 0; i < f.params; i++ {
			types = append(types, 0x7f)
		}
		types = appendULEB(types, uint32(f.results))
		for i := 0; i < f.results; i++ {
			types = append(types, 0x7f)
		}
	}
	out = appendSection(out, 1, types)
	var imports []byte
	imports = appendULEB(imports, uint32(len(opaHostFuncs)))
	for i, f := range opaHostFuncs {
		imports = appendName(imports, opaHostModule)
		imports = appendName(imports, f.name)
		imports = append(imports, 0x00)
		imports = appendULEB(imports, uint32(i))
	}
	out = appendSection(out, 2, imports)
	mem := []byte{0x01, 0x01}
	mem = appendULEB(mem, minPages)
	mem = appendULEB(mem, maxPages)
	out = appendSection(out, 5, mem)
	var exports []byte
	exports = appendULEB(exports, uint32(len(opaHostFuncs)+1))
	exports = appendName(exports, "memory")
	exports = append(exports, 0x02, 0x00)
	for i, f := range opaHostFuncs {
		exports = appendName(exports, f.name)
		exports = append(exports, 0x00)
		exports = appendULEB(exports, uint32(i))
	}
	return appendSection(out, 7, exports)
}

func appendULEB(b []byte, v uint32) []byte {
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if v != 0 {
			b = append(b, c|0x80)
			continue
		}
		return append(b, c)
	}
}

func appendName(b []byte, s string) []byte {
	b = appendULEB(b, uint32(len(s)))
	return append(b, s...)
}

func appendSection(b []byte, id byte, content []byte) []byte {
	b = append(b, id)
	b = appendULEB(b, uint32(len(content)))
	return append(b, content...)
}
