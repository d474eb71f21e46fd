package wasm

import (
	"bytes"
	"context"
	"fmt"
	"sort"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/canswarm/swarmhost/host/wasm/gas"
)

// An agent's instance runs only after its _initialize (for a Go agent, the
// Go runtime starting up: most of what a fresh instance costs), and every
// call needs an instance in that state and nothing else (RATIONALE.md). Running _initialize is deterministic, so its outcome is the
// same for every instance: an image of it, taken once per module, is that
// state. An instance starts from the image when gas.CheckImage says
// nothing of an instance's state escapes what a host can read and set. It
// is instantiated as usual (data and element segments applied, no start
// function: CheckImage refuses one), then its memory is grown to the
// image's size and given the image's bytes where they differ from a just
// instantiated memory, its mutable globals are set to the image's, and so
// are its WASI clock, random stream and output buffers. The instance is
// then in exactly the state a fresh one reaches by running _initialize,
// which it does not run; a call on it uses the same gas and gives the same
// result (TestImageInstancesAreFresh). After a call, recycle puts the
// instance back in that state, for the next call.

// image is a module's instance state after _initialize.
type image struct {
	pages   uint32       // the memory's size, in pages
	memory  []byte       // the whole memory
	runs    []imageRun   // where memory differs from a just instantiated one
	globals []imageValue // every exported mutable global
	stdout  *lineWriter
	stderr  *lineWriter
	clock   fakeClock
	rand    *randStream
}

// imageRun is a stretch of memory and its bytes in the image (a part of
// image.memory).
type imageRun struct {
	offset uint32
	bytes  []byte
}

type imageValue struct {
	name  string
	value uint64
}

// imageGranule is the size of the blocks compared when the image is taken:
// only blocks _initialize changed are copied into each instance.
const imageGranule = 4096

// buildImage initialises an instance and keeps its state.
func (m *Module) buildImage(ctx context.Context, instrumented []byte) (*image, error) {
	if !m.rt.live.enter() {
		return nil, errRuntimeClosed
	}
	defer m.rt.live.exit()
	var before []byte
	inst, err := m.initialise(ctx, &before)
	if err != nil {
		return nil, err
	}
	defer inst.Close(ctx)
	img := &image{stdout: inst.stdout.clone(), stderr: inst.stderr.clone(), clock: *inst.clock, rand: inst.rand.clone()}
	names, err := gas.ImageGlobals(instrumented)
	if err != nil {
		return nil, err
	}
	for _, name := range names {
		g := inst.ExportedGlobal(name)
		if g == nil {
			return nil, fmt.Errorf("image: global %s not exported", name)
		}
		img.globals = append(img.globals, imageValue{name, g.Get()})
	}
	sort.Slice(img.globals, func(i, j int) bool { return img.globals[i].name < img.globals[j].name })
	mem := inst.Memory()
	img.pages = mem.Size() / 65536
	after, ok := mem.Read(0, mem.Size())
	if !ok {
		return nil, fmt.Errorf("image: cannot read the memory")
	}
	img.memory = append([]byte(nil), after...)
	img.runs = diffRuns(before, img.memory)
	return img, nil
}

// diffRuns lists the stretches, in whole granules, where after differs
// from before (read as zeros past its end), with after's bytes (parts of
// after, not copies).
func diffRuns(before, after []byte) []imageRun {
	var runs []imageRun
	zeros := make([]byte, imageGranule)
	for off := 0; off < len(after); off += imageGranule {
		end := min(off+imageGranule, len(after))
		var was []byte
		switch {
		case off >= len(before):
			was = zeros[:end-off]
		case end > len(before):
			was = append(append([]byte(nil), before[off:]...), zeros[:end-len(before)]...)
		default:
			was = before[off:end]
		}
		if bytes.Equal(was, after[off:end]) {
			continue
		}
		if n := len(runs); n > 0 && int(runs[n-1].offset)+len(runs[n-1].bytes) == off {
			runs[n-1].bytes = after[runs[n-1].offset:end]
			continue
		}
		runs = append(runs, imageRun{offset: uint32(off), bytes: after[off:end]})
	}
	return runs
}

// fromImage makes an instance in the image's state.
func (m *Module) fromImage(ctx context.Context) (*instance, error) {
	img := m.image
	stdout, stderr := img.stdout.clone(), img.stderr.clone()
	clock, rand := img.clock, img.rand.clone()
	cfg := wasiWith(wazero.NewModuleConfig().
		WithName(fmt.Sprintf("%s#%d", m.name, m.rt.instanceSeq.Add(1))).
		WithStartFunctions(), stdout, stderr, &clock, rand)
	st := m.newCallState(m.rt.cfg.InitGas, nil)
	var lm imageMemory
	mod, err := m.rt.rt.InstantiateModule(withImageMemory(withCallState(ctx, st), &lm), m.compiled, cfg)
	if err != nil {
		return nil, fmt.Errorf("instantiate from image: %w", err)
	}
	inst := &instance{Module: mod, stdout: stdout, stderr: stderr, clock: &clock, rand: rand, mem: lm}
	fail := func(format string, args ...any) (*instance, error) {
		mod.Close(ctx)
		return nil, fmt.Errorf("instantiate from image: "+format, args...)
	}
	mem := mod.Memory()
	if have := mem.Size() / 65536; have < img.pages {
		if _, ok := mem.Grow(img.pages - have); !ok {
			return fail("cannot grow the memory to %d pages", img.pages)
		}
	}
	for _, r := range img.runs {
		if !mem.Write(r.offset, r.bytes) {
			return fail("cannot write %d bytes at %d", len(r.bytes), r.offset)
		}
	}
	for _, g := range img.globals {
		mg, ok := mod.ExportedGlobal(g.name).(api.MutableGlobal)
		if !ok {
			return fail("global %s is not mutable", g.name)
		}
		mg.Set(g.value)
		inst.globals = append(inst.globals, mg)
	}
	inst.mem.track(len(img.memory))
	return inst, nil
}

// recycle puts an instance that has answered a call back in the image's
// state and into the pool, so that the next call does not pay for an
// instantiation (for a Go agent: its function table's thousands of
// element entries, its data segments, and clearing the memory when the
// instance closes). What an instance holds is its memory, its mutable
// globals (all exported: gas.CheckImage), its tables (never changed:
// CheckImage) and the WASI state the host keeps (clock, random stream,
// output buffers); all are set back to the image's. The memory must not
// have grown: a wasm memory cannot shrink, and its size is observable.
// recycle reports false, leaving the instance to the caller, when it cannot
// be put back.
func (m *Module) recycle(inst *instance) bool {
	img := m.image
	if img == nil || !inst.clean {
		return false
	}
	mem := inst.Memory()
	if mem == nil || mem.Size() != img.pages*65536 {
		return false
	}
	view, ok := mem.Read(0, mem.Size())
	if !ok || len(view) != len(img.memory) {
		return false
	}
	if !inst.mem.restoreWritten(img.memory) {
		restore(view, img.memory)
		inst.mem.track(len(img.memory))
	}
	if len(inst.globals) != len(img.globals) {
		return false
	}
	for i, g := range img.globals {
		inst.globals[i].Set(g.value)
	}
	*inst.stdout, *inst.stderr = *img.stdout.clone(), *img.stderr.clone()
	*inst.clock, *inst.rand = img.clock, *img.rand.clone()
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed || len(m.pool) >= m.rt.cfg.PoolSize {
		return false
	}
	m.pool = append(m.pool, inst)
	m.recycled.Add(1)
	return true
}

// restore makes dst equal to src (of the same length), writing only the
// blocks that differ: a call writes a small part of an instance's memory,
// and reading is cheaper than writing.
func restore(dst, src []byte) {
	for off := 0; off < len(src); off += imageGranule {
		end := min(off+imageGranule, len(src))
		if !bytes.Equal(dst[off:end], src[off:end]) {
			copy(dst[off:end], src[off:end])
		}
	}
}
