package compile

import "github.com/tetratelabs/wazero/api"

// glueHostModule is the host module whose functions the env glue re-exports.
const glueHostModule = "opa_host"

type glueFunc struct {
	name            string
	params, results []api.ValueType
}

// glueModule encodes a WebAssembly 1.0 module that imports funcs from
// glueHostModule, defines one memory of [minPages, maxPages] and exports
// the memory as "memory" and each function under its own name.
func glueModule(funcs []glueFunc, minPages, maxPages uint32) []byte {
	out := []byte{0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00}

	types := uleb(nil, uint32(len(funcs)))
	for _, f := range funcs {
		types = append(types, 0x60)
		types = uleb(types, uint32(len(f.params)))
		types = append(types, f.params...)
		types = uleb(types, uint32(len(f.results)))
		types = append(types, f.results...)
	}
	out = section(out, 1, types)

	imports := uleb(nil, uint32(len(funcs)))
	for i, f := range funcs {
		imports = name(imports, glueHostModule)
		imports = name(imports, f.name)
		imports = append(imports, 0x00) // function
		imports = uleb(imports, uint32(i))
	}
	out = section(out, 2, imports)

	mem := []byte{0x01, 0x01} // one memory, limits with a maximum
	mem = uleb(mem, minPages)
	mem = uleb(mem, maxPages)
	out = section(out, 5, mem)

	exports := uleb(nil, uint32(len(funcs)+1))
	exports = name(exports, "memory")
	exports = append(exports, 0x02, 0x00) // memory 0
	for i, f := range funcs {
		exports = name(exports, f.name)
		exports = append(exports, 0x00) // function i
		exports = uleb(exports, uint32(i))
	}
	return section(out, 7, exports)
}

func uleb(b []byte, v uint32) []byte {
	for {
		c := byte(v & 0x7f)
		if v >>= 7; v == 0 {
			return append(b, c)
		}
		b = append(b, c|0x80)
	}
}

func name(b []byte, s string) []byte {
	return append(uleb(b, uint32(len(s))), s...)
}

func section(out []byte, id byte, body []byte) []byte {
	out = append(out, id)
	out = uleb(out, uint32(len(body)))
	return append(out, body...)
}
