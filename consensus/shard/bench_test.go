package shard_test

import (
	"bytes"
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
