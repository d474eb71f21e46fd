package shard_test

import (
	"bytes"
	"runtime"
	"testing"

	"github.com/canswarm/swarmhost/consensus/shard"
)

// BenchmarkApplyDecide: an accepted DECIDE for a new NEED (parse, checks,
// state update, answer).
func BenchmarkApplyDecide(b *testing.B) {
	const pool = 1 << 12
	cmds := make([][]byte, pool)
	for i := range cmds {
		cmds[i] = decide(ref("bench", i), 1, 0).Encode()
	}
	m, index := shard.New(), uint64(0)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if i%pool == 0 && i > 0 {
			b.StopTimer()
			m = shard.New()
			b.StartTimer()
		}
		index++
		if !m.Apply(index, cmds[i%pool]).Accepted {
			b.Fatal("rejected")
		}
	}
}

// BenchmarkApplyRepeat: a retried DECIDE answered from the state.
func BenchmarkApplyRepeat(b *testing.B) {
	m := shard.New()
	cmd := decide(needID(1), 1, 0).Encode()
	m.Apply(1, cmd)
	b.ReportAllocs()
	for i := range b.N {
		if !m.Apply(uint64(i)+2, cmd).Accepted {
			b.Fatal("rejected")
		}
	}
}

// BenchmarkApplyResultEncode: the answer as a replica returns it.
func BenchmarkApplyResultEncode(b *testing.B) {
	m := shard.New()
	cmd := decide(needID(1), 1, 0).Encode()
	m.Apply(1, cmd)
	b.ReportAllocs()
	for i := range b.N {
		_ = m.Apply(uint64(i)+2, cmd).Encode()
	}
}

// BenchmarkSave: a snapshot of 1,000 decided NEEDs.
func BenchmarkSave(b *testing.B) {
	m := shard.New()
	for i := range 1000 {
		m.Apply(uint64(i)+1, decide(ref("bench", i), 1, 0).Encode())
	}
	var buf bytes.Buffer
	b.ReportAllocs()
	for range b.N {
		buf.Reset()
		if err := m.Save(&buf); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(int64(buf.Len()))
}

// BenchmarkMemoryPerNeed reports the live heap a replica holds per
// finalized NEED (DECIDE and FINALIZE accepted), and per NEED once a GC
// collected it (its id kept, so that it is never decided again). b.N
// NEEDs; run with a large -benchtime, e.g. 20000x.
func BenchmarkMemoryPerNeed(b *testing.B) {
	live := func() uint64 {
		runtime.GC()
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	cmds := make([][]byte, 0, 3*b.N)
	for i := 0; i < b.N; i++ {
		need := ref("memory", i)
		cmds = append(cmds, decide(need, 1, 1).Encode(), finalize(need, 1, 1).Encode(),
			(&shard.GC{Bucket: bucket(need), Needs: []string{need}}).Encode())
	}
	base := live()
	m, index := shard.New(), uint64(0)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for _, c := range cmds[3*i : 3*i+2] {
			index++
			if !m.Apply(index, c).Accepted {
				b.Fatalf("%s refused", c)
			}
		}
	}
	b.StopTimer()
	held := live()
	for i := 0; i < b.N; i++ {
		index++
		if res := m.Apply(index, cmds[3*i+2]); res.Dropped != 1 {
			b.Fatalf("GC dropped %d", res.Dropped)
		}
	}
	collected := live()
	b.ReportMetric(float64(held-base)/float64(b.N), "held-B/need")
	b.ReportMetric(float64(collected-base)/float64(b.N), "collected-B/need")
	runtime.KeepAlive(m)
	runtime.KeepAlive(cmds)
}
