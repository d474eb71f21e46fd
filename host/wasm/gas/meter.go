package gas

import (
	"cmp"
	"slices"
)

// The metering algorithm of wasm-instrument (paritytech), restated: a body is
// cut into metered blocks, runs of instructions that either all execute or
// none do (barring a trap), and each block's summed cost is charged before
// its first instruction. A new metered block starts after every branch
// (br, br_if, br_table, return), at the start of every loop body and if/else
// arm, and after the end of a control block that something inside branched
// out of; a plain `block` does not start one, its leading instructions are
// charged with the enclosing block's.

// charge is a static charge inserted before instruction at.
type charge struct {
	at   int
	cost uint64
}

type meteredBlock struct {
	start int
	cost  uint64
}

type controlBlock struct {
	lowestForwardTarget int // lowest control stack index branched to from inside
	active              meteredBlock
	isLoop              bool
	loop                int // index in meter.loops, for loops
}

// loopInfo tracks how a loop's header block is entered, for mergeLoopHeaders.
type loopInfo struct {
	header int  // start of the header metered block: the loop instruction's index + 1
	merge  bool // false once a conditional branch (br_if, br_table) targets the loop
}

// loopPred records that the metered block starting at start enters loop
// exactly once per execution: by falling into it or by a br to it.
type loopPred struct {
	loop, start int
}

type meter struct {
	stack   []controlBlock
	charges []charge
	loops   []loopInfo
	preds   []loopPred
	costAt  map[int]uint64
	removed map[int]bool
}

// run computes the charges of one decoded body. localsCost is charged with
// the function's first metered block.
func (mt *meter) run(d *bodyDecoder, c *compiled, localsCost uint64) error {
	mt.stack = mt.stack[:0]
	mt.charges = mt.charges[:0]
	mt.loops = mt.loops[:0]
	mt.preds = mt.preds[:0]
	mt.begin(0, false)
	mt.stack[0].active.cost = localsCost
	for i, in := range d.instrs {
		var cost uint64
		if in.op >= 0x100 {
			cost = uint64(c.misc[in.op&0xff])
		} else {
			cost = uint64(c.ops[in.op])
		}
		top := &mt.stack[len(mt.stack)-1]
		switch in.info().ctl {
		case ctlBlock:
			top.active.cost += cost
			mt.begin(top.active.start, false)
		case ctlIf:
			top.active.cost += cost
			mt.begin(i+1, false)
		case ctlLoop:
			top.active.cost += cost
			mt.preds = append(mt.preds, loopPred{loop: len(mt.loops), start: top.active.start})
			mt.loops = append(mt.loops, loopInfo{header: i + 1, merge: true})
			mt.begin(i+1, true)
			mt.stack[len(mt.stack)-1].loop = len(mt.loops) - 1
		case ctlEnd:
			mt.finalizeControl(i)
		case ctlElse:
			mt.finalizeMetered(i)
		case ctlBr, ctlBrIf:
			top.active.cost += cost
			target := len(mt.stack) - 1 - int(in.arg)
			if int(in.arg) >= len(mt.stack) {
				return &DecodeError{Section: "code", Offset: int(in.pos), Detail: "branch label out of range"}
			}
			if t := &mt.stack[target]; t.isLoop {
				if in.info().ctl == ctlBr {
					mt.preds = append(mt.preds, loopPred{loop: t.loop, start: top.active.start})
				} else {
					mt.loops[t.loop].merge = false
				}
			}
			mt.finalizeMetered(i)
			mt.branchTo(target)
		case ctlBrTable:
			top.active.cost += cost
			mt.finalizeMetered(i)
			n := int(d.targets[in.arg])
			for _, l := range d.targets[in.arg+1 : int(in.arg)+1+n] {
				if int(l) >= len(mt.stack) {
					return &DecodeError{Section: "code", Offset: int(in.pos), Detail: "branch label out of range"}
				}
				t := len(mt.stack) - 1 - int(l)
				if mt.stack[t].isLoop {
					mt.loops[mt.stack[t].loop].merge = false
				}
				mt.branchTo(t)
			}
		case ctlReturn:
			top.active.cost += cost
			mt.finalizeMetered(i)
			mt.branchTo(0)
		default:
			top.active.cost += cost
		}
	}
	if len(mt.stack) != 0 {
		return &DecodeError{Section: "code", Offset: int(d.instrs[len(d.instrs)-1].pos), Detail: "unbalanced control blocks"}
	}
	mt.mergeLoopHeaders()
	slices.SortStableFunc(mt.charges, func(a, b charge) int { return cmp.Compare(a.at, b.at) })
	// Merge charges that landed on the same instruction.
	out := mt.charges[:0]
	for _, ch := range mt.charges {
		if n := len(out); n > 0 && out[n-1].at == ch.at {
			out[n-1].cost += ch.cost
			continue
		}
		out = append(out, ch)
	}
	mt.charges = out
	return nil
}

// mergeLoopHeaders removes the charge of a loop's header block when every
// way into the loop is unconditional (falling in, or br), adding its cost to
// each metered block that enters the loop instead: each of those enters it
// exactly once per execution, so the figures stay exact, and a loop whose
// back edges are all br (as Go's dispatch loops are) does one charge less per
// iteration. Every iteration still passes a charge (the one of the block
// holding the br), so a runaway loop still runs out of gas.
func (mt *meter) mergeLoopHeaders() {
	if len(mt.loops) == 0 {
		return
	}
	if mt.costAt == nil {
		mt.costAt, mt.removed = map[int]uint64{}, map[int]bool{}
	}
	clear(mt.costAt)
	clear(mt.removed)
	for _, ch := range mt.charges {
		mt.costAt[ch.at] += ch.cost
	}
	// Group the preds by loop, each group sorted by start.
	slices.SortFunc(mt.preds, func(a, b loopPred) int {
		if a.loop != b.loop {
			return cmp.Compare(a.loop, b.loop)
		}
		return cmp.Compare(a.start, b.start)
	})
	changed := false
	end := len(mt.preds)
	// Inner and later loops first, so a header merged into an enclosing
	// loop's header moves on with it; a loop entered from a block whose
	// charge was already moved away is left alone.
	for l := len(mt.loops) - 1; l >= 0; l-- {
		begin := end
		for begin > 0 && mt.preds[begin-1].loop == l {
			begin--
		}
		preds := mt.preds[begin:end]
		end = begin
		info := mt.loops[l]
		hc := mt.costAt[info.header]
		if !info.merge || hc == 0 || mt.removed[info.header] {
			continue
		}
		ok := true
		for _, p := range preds {
			if p.start == info.header || mt.removed[p.start] {
				ok = false
				break
			}
		}
		if !ok {
			continue
		}
		last := -1
		for _, p := range preds {
			if p.start != last { // a block enters the loop once however many br it holds
				mt.costAt[p.start] += hc
				last = p.start
			}
		}
		delete(mt.costAt, info.header)
		mt.removed[info.header] = true
		changed = true
	}
	if !changed {
		return
	}
	mt.charges = mt.charges[:0]
	for at, cost := range mt.costAt {
		mt.charges = append(mt.charges, charge{at: at, cost: cost})
	}
}

func (mt *meter) begin(start int, isLoop bool) {
	mt.stack = append(mt.stack, controlBlock{
		lowestForwardTarget: len(mt.stack),
		active:              meteredBlock{start: start},
		isLoop:              isLoop,
	})
}

// finalizeMetered closes the active metered block of the top control block
// and opens a new one after cursor. A block that began where the enclosing
// control block's active metered block began is merged into it instead.
func (mt *meter) finalizeMetered(cursor int) {
	last := len(mt.stack) - 1
	closing := mt.stack[last].active
	mt.stack[last].active = meteredBlock{start: cursor + 1}
	if last > 0 {
		prev := &mt.stack[last-1].active
		if closing.start == prev.start {
			prev.cost += closing.cost
			return
		}
	}
	if closing.cost > 0 {
		mt.charges = append(mt.charges, charge{at: closing.start, cost: closing.cost})
	}
}

// branchTo records a branch to the control block at stack index target.
// Branches to loops go backwards and need no bookkeeping.
func (mt *meter) branchTo(target int) {
	if mt.stack[target].isLoop {
		return
	}
	top := &mt.stack[len(mt.stack)-1]
	top.lowestForwardTarget = min(top.lowestForwardTarget, target)
}

// finalizeControl handles an end.
func (mt *meter) finalizeControl(cursor int) {
	mt.finalizeMetered(cursor)
	closing := mt.stack[len(mt.stack)-1]
	mt.stack = mt.stack[:len(mt.stack)-1]
	closingIndex := len(mt.stack)
	if closingIndex == 0 {
		return
	}
	top := &mt.stack[closingIndex-1]
	top.lowestForwardTarget = min(top.lowestForwardTarget, closing.lowestForwardTarget)
	// If something inside branched past this block's end, the code after it
	// may be reached without passing the enclosing metered block's start.
	if closing.lowestForwardTarget < closingIndex {
		mt.finalizeMetered(cursor)
	}
}
