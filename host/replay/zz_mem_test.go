package replay

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/canswarm/swarmhost/host"
	"github.com/canswarm/swarmhost/host/audit"
	"github.com/canswarm/swarmhost/host/cas"
)

func TestTmpCoreMemory(t *testing.T) {
	dir := os.Getenv("TRAILDIR")
	if dir == "" {
		t.Skip()
	}
	store, _ := cas.NewFileStore(filepath.Join(dir, "cas"))
	heap := func() uint64 {
		runtime.GC()
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	h0 := heap()
	_, lines, err := audit.Read(filepath.Join(dir, "audit"), func(string, uint64, *audit.Record) bool { return false })
	if err != nil {
		t.Fatal(err)
	}
	inputs, err := host.TrailFromLines(lines, func(ref string) []byte { b, _ := store.Get(context.Background(), ref); return b })
	if err != nil {
		t.Fatal(err)
	}
	lines = nil
	r, err := replayInputs(context.Background(), Options{DataDir: dir, NoRerun: true}, store, inputs, 0)
	if err != nil {
		t.Fatal(err)
	}
	r.reruns = nil
	withInputs := heap()
	inputs = nil
	r.runs, r.evals = nil, nil
	core := r.core
	r = nil
	coreOnly := heap()
	t.Logf("threads %d: heap with inputs %d KB, core alone %d KB (baseline %d KB); per thread %.1f KB", len(core.Threads()), (withInputs-h0)/1024, (coreOnly-h0)/1024, h0/1024, float64(coreOnly-h0)/1024/float64(len(core.Threads())))
	runtime.KeepAlive(core)
}
