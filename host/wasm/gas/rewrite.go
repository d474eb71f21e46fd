package gas

// Rewriting function bodies and generating the functions the instrumenter
// adds.

// rewriteBody appends the instrumented body of c (locals included, without
// the size prefix) to out.
//
// The remaining gas is cached in a new local, g: charges test and subtract
// it in a register and write it through to the global, so the global is
// exact at every instruction (a host reads it after a trap) while no charge
// waits on a load. After every call the callee may have charged, so g is
// reloaded from the global.
func (in *instrumenter) rewriteBody(out []byte, c codeEntry, d *bodyDecoder, charges []charge, ft funcType) []byte {
	buf := in.m.buf
	useLocal := len(charges) > 0
	wrap := d.hasCalls
	// The locals: the original groups, then g (i64) and d (i32, the depth on entry).
	lr := reader{buf: buf, pos: c.start, end: c.body}
	groups, _ := lr.u32() // decoded before: cannot fail
	extra := uint32(0)
	if useLocal {
		extra++
	}
	if wrap {
		extra++
	}
	out = appendU32(out, groups+extra)
	out = append(out, buf[lr.pos:c.body]...)
	gLocal := uint32(len(ft.params)) + uint32(c.numLocals)
	dLocal := gLocal
	if useLocal {
		out = append(out, 1, valI64)
		dLocal++
	}
	if wrap {
		out = append(out, 1, valI32)
	}
	// The body goes inside cold exits for the checks, one per charge:
	//
	//	g = gas
	//	block $deep
	//	  block $oog
	//	    d = depth; br_if $deep (d >= limit); depth = d + 1
	//	    block $e[K-1] ... block $e[0]
	//	      block $body (result R)
	//	        ...the original body, charge k doing br_if $e[k],
	//	        its own end closing $body...
	//	      depth = d
	//	      return
	//	    end br $oog ... end br $oog
	//	  end
	//	  call exhausted; unreachable
	//	end
	//	call too_deep; unreachable
	//
	// A failed check is then a not-taken branch to the end of the function.
	// Each charge has its own exit block because wazero's compiler does not
	// fuse a compare into its conditional branch when the branch goes to a
	// block with other predecessors (it splits the critical edge and loses
	// the compare's instruction group), and an if block in the hot path
	// costs more in large modules: both measured.
	framed := useLocal || wrap
	if useLocal {
		out = in.appendReload(out, gLocal)
	}
	if wrap {
		out = append(out, opBlock, blockEmpty)
	}
	if useLocal {
		out = append(out, opBlock, blockEmpty)
	}
	if wrap {
		deepLabel := uint32(0)
		if useLocal {
			deepLabel = 1
		}
		out = in.appendDepthEnter(out, dLocal, deepLabel)
	}
	for range charges {
		out = append(out, opBlock, blockEmpty)
	}
	if framed {
		out = append(out, opBlock)
		out = in.appendBlockType(out, ft.results)
	}
	raw := c.body // start of the bytes not yet copied
	ci := 0
	depth := 0 // open blocks of the original body
	instrs := d.instrs
	for i := range instrs {
		ins := &instrs[i]
		pos := int(ins.pos)
		if ci < len(charges) && charges[ci].at == i {
			out = append(out, buf[raw:pos]...)
			raw = pos
			out = in.appendCharge(out, charges[ci].cost, gLocal, uint32(depth+1+ci))
			ci++
		}
		switch ins.op {
		case opBlock, opLoop, opIf:
			depth++
		case opEnd:
			depth--
		case opCall:
			next := in.next(instrs, i, c)
			out = append(out, buf[raw:pos]...)
			raw = next
			f := ins.arg
			if f < in.nImp {
				// Hand the gas to the host around a host call.
				out = append(out, opGlobalGet)
				out = appendU32(out, in.gGas)
				out = append(out, opCall)
				out = appendU32(out, in.fSet)
				out = append(out, opCall)
				out = appendU32(out, f)
				out = append(out, opCall)
				out = appendU32(out, in.fGet)
				if useLocal {
					out = append(out, opLocalTee)
					out = appendU32(out, gLocal)
				}
				out = append(out, opGlobalSet)
				out = appendU32(out, in.gGas)
			} else {
				out = append(out, opCall)
				out = appendU32(out, f+4)
				if useLocal {
					out = in.appendReload(out, gLocal)
				}
			}
		case opCallIndirect:
			if useLocal {
				next := in.next(instrs, i, c)
				out = append(out, buf[raw:next]...)
				raw = next
				out = in.appendReload(out, gLocal)
			}
		case opRefFunc:
			next := in.next(instrs, i, c)
			out = append(out, buf[raw:pos]...)
			raw = next
			v := in.value(ins.arg)
			if ins.arg < in.nImp && v != ins.arg {
				in.thunkInCode[v] = true
			}
			out = append(out, opRefFunc)
			out = appendU32(out, v)
		case opReturn:
			if wrap {
				// Leave through the wrapping block so the depth is restored.
				next := in.next(instrs, i, c)
				out = append(out, buf[raw:pos]...)
				raw = next
				out = append(out, opBr)
				out = appendU32(out, uint32(depth))
			}
		default:
			info := ins.info()
			if info.dyn == dynNone {
				continue
			}
			fn, unit := in.fDynUnits, in.costs.perElement
			switch info.dyn {
			case dynPages:
				unit = in.costs.perPage
			case dynBytes:
				fn, unit = in.fDynWords, in.costs.perWord
			}
			if unit == 0 {
				continue
			}
			// The count is the operand on top of the stack: charge for it, keep it.
			out = append(out, buf[raw:pos]...)
			raw = pos
			out = append(out, opI64Const)
			out = appendS64(out, int64(unit))
			out = append(out, opCall)
			out = appendU32(out, fn)
			if useLocal {
				out = in.appendReload(out, gLocal)
			}
		}
	}
	out = append(out, buf[raw:c.end]...) // the body's own end closes $body
	if wrap {
		out = append(out, opLocalGet)
		out = appendU32(out, dLocal)
		out = append(out, opGlobalSet)
		out = appendU32(out, in.gDepth)
	}
	if framed {
		out = append(out, opReturn)
	}
	for k := range charges {
		out = append(out, opEnd, opBr) // $e[k]
		out = appendU32(out, uint32(len(charges)-1-k))
	}
	if useLocal {
		out = append(out, opEnd, opCall) // $oog
		out = appendU32(out, in.fExhaust)
		out = append(out, opUnreachable)
	}
	if wrap {
		out = append(out, opEnd, opCall)
		out = appendU32(out, in.fTooDeep)
		out = append(out, opUnreachable)
	}
	if framed {
		out = append(out, opEnd)
	}
	return out
}

// appendReload appends: g = gas.
func (in *instrumenter) appendReload(out []byte, g uint32) []byte {
	out = append(out, opGlobalGet)
	out = appendU32(out, in.gGas)
	out = append(out, opLocalSet)
	return appendU32(out, g)
}

func (in *instrumenter) next(instrs []instr, i int, c codeEntry) int {
	if i+1 < len(instrs) {
		return int(instrs[i+1].pos)
	}
	return c.end
}

// appendCharge appends: br_if exit (g < cost); gas = g = g - cost.
func (in *instrumenter) appendCharge(out []byte, cost uint64, g, exit uint32) []byte {
	out = append(out, opLocalGet)
	out = appendU32(out, g)
	out = append(out, opI64Const)
	out = appendS64(out, int64(cost))
	out = append(out, opI64LtU, opBrIf)
	out = appendU32(out, exit)
	out = append(out, opLocalGet)
	out = appendU32(out, g)
	out = append(out, opI64Const)
	out = appendS64(out, int64(cost))
	out = append(out, opI64Sub, opLocalTee)
	out = appendU32(out, g)
	out = append(out, opGlobalSet)
	return appendU32(out, in.gGas)
}

// appendDepthEnter appends: d = depth; br_if $deep (d >= limit); depth = d + 1.
func (in *instrumenter) appendDepthEnter(out []byte, d, deep uint32) []byte {
	out = append(out, opGlobalGet)
	out = appendU32(out, in.gDepth)
	out = append(out, opLocalTee)
	out = appendU32(out, d)
	out = append(out, opI32Const)
	out = appendS32(out, int32(in.limit))
	out = append(out, opI32GeU, opBrIf)
	out = appendU32(out, deep)
	out = append(out, opLocalGet)
	out = appendU32(out, d)
	out = append(out, opI32Const, 1, opI32Add, opGlobalSet)
	return appendU32(out, in.gDepth)
}

// appendBlockType appends the block type of a block yielding results.
func (in *instrumenter) appendBlockType(out []byte, results []byte) []byte {
	switch len(results) {
	case 0:
		return append(out, blockEmpty)
	case 1:
		return append(out, results[0])
	}
	return appendS64(out, int64(in.typeIndex(funcType{results: results})))
}

// dynBody is the body of charge(n i32, unit i64) -> i32, which charges
// n*unit (or ceil(n/8)*unit with words) and returns n.
func (in *instrumenter) dynBody(words bool) []byte {
	b := []byte{1, 1, valI64} // one i64 local: the cost
	b = append(b, opLocalGet, 0, opI64ExtendU)
	if words {
		b = append(b, opI64Const, 7, opI64Add, opI64Const, 3, opI64ShrU)
	}
	b = append(b, opLocalGet, 1, opI64Mul, opLocalSet, 2, opGlobalGet)
	b = appendU32(b, in.gGas)
	b = append(b, opLocalGet, 2, opI64LtU, opIf, blockEmpty, opCall)
	b = appendU32(b, in.fExhaust)
	b = append(b, opUnreachable, opEnd, opGlobalGet)
	b = appendU32(b, in.gGas)
	b = append(b, opLocalGet, 2, opI64Sub, opGlobalSet)
	b = appendU32(b, in.gGas)
	return append(b, opLocalGet, 0, opEnd)
}

// thunkBody is the body of the stand-in for imported function f when it is
// used as a value: it hands the gas to the host around the call.
func (in *instrumenter) thunkBody(b []byte, f uint32) []byte {
	ft := in.m.types[in.m.funcTypes[f]]
	b = append(b, 0, opGlobalGet)
	b = appendU32(b, in.gGas)
	b = append(b, opCall)
	b = appendU32(b, in.fSet)
	for i := range ft.params {
		b = append(b, opLocalGet)
		b = appendU32(b, uint32(i))
	}
	b = append(b, opCall)
	b = appendU32(b, f)
	b = append(b, opCall)
	b = appendU32(b, in.fGet)
	b = append(b, opGlobalSet)
	b = appendU32(b, in.gGas)
	return append(b, opEnd)
}

// wrapperBody is the body of the export wrapper of defined function f: take
// the gas from the host, run f at depth 0, give the gas back.
func (in *instrumenter) wrapperBody(b []byte, f uint32) []byte {
	ft := in.m.types[in.m.funcTypes[f]]
	saved := uint32(len(ft.params))
	b = append(b, 1, 1, valI32) // one i32 local: the caller's depth
	b = append(b, opGlobalGet)
	b = appendU32(b, in.gDepth)
	b = append(b, opLocalSet)
	b = appendU32(b, saved)
	b = append(b, opI32Const, 0, opGlobalSet)
	b = appendU32(b, in.gDepth)
	b = append(b, opCall)
	b = appendU32(b, in.fGet)
	b = append(b, opGlobalSet)
	b = appendU32(b, in.gGas)
	for i := uint32(0); i < saved; i++ {
		b = append(b, opLocalGet)
		b = appendU32(b, i)
	}
	b = append(b, opCall)
	b = appendU32(b, in.shift(f))
	b = append(b, opGlobalGet)
	b = appendU32(b, in.gGas)
	b = append(b, opCall)
	b = appendU32(b, in.fSet)
	b = append(b, opLocalGet)
	b = appendU32(b, saved)
	b = append(b, opGlobalSet)
	b = appendU32(b, in.gDepth)
	return append(b, opEnd)
}
