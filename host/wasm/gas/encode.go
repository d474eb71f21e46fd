package gas

// Append-style encoders for the binary format's primitives and the module
// parts the instrumenter builds itself.

func appendU32(b []byte, v uint32) []byte {
	for v >= 0x80 {
		b = append(b, byte(v)|0x80)
		v >>= 7
	}
	return append(b, byte(v))
}

func appendS64(b []byte, v int64) []byte {
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if (v == 0 && c&0x40 == 0) || (v == -1 && c&0x40 != 0) {
			return append(b, c)
		}
		b = append(b, c|0x80)
	}
}

func appendS32(b []byte, v int32) []byte { return appendS64(b, int64(v)) }

func appendName(b []byte, s string) []byte {
	b = appendU32(b, uint32(len(s)))
	return append(b, s...)
}

// appendSection appends a section with the given id and payload.
func appendSection(b []byte, id byte, payload []byte) []byte {
	b = append(b, id)
	b = appendU32(b, uint32(len(payload)))
	return append(b, payload...)
}

// appendFuncType appends a function type (0x60 params results).
func appendFuncType(b []byte, t funcType) []byte {
	b = append(b, 0x60)
	b = appendU32(b, uint32(len(t.params)))
	b = append(b, t.params...)
	b = appendU32(b, uint32(len(t.results)))
	return append(b, t.results...)
}

// appendConstExpr appends a constant expression, remapping function indices
// of ref.func through fmap, and its end opcode.
func appendConstExpr(b []byte, e constExpr, fmap func(uint32) uint32) []byte {
	switch e.op {
	case opRefFunc:
		b = append(b, opRefFunc)
		b = appendU32(b, fmap(e.idx))
		return append(b, opEnd)
	default:
		// Everything else is copied verbatim, end included.
		return append(b, e.raw...)
	}
}
