package audit_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/canswarm/swarmhost/abi/envelope"
	"github.com/canswarm/swarmhost/host/audit"
)

func benchEnvelopes(b *testing.B, n int) []*envelope.Envelope {
	need, _ := envelope.Sign(envelope.Draft{Verb: envelope.VerbNeed, Lamport: 1}, key(1))
	out := []*envelope.Envelope{need}
	for i := 1; i < n; i++ {
		e, err := envelope.Sign(envelope.Draft{ThreadID: need.ID, Verb: envelope.VerbHeartbeat, Lamport: uint64(i + 1),
			Payload: map[string]any{"epoch": 1, "fence": i}}, key(2))
		if err != nil {
			b.Fatal(err)
		}
		out = append(out, e)
	}
	return out
}

// BenchmarkAuditAppend: one accepted envelope per op, fsynced (line and head)
// before Append returns.
func BenchmarkAuditAppend(b *testing.B) {
	envs := benchEnvelopes(b, b.N+1)
	tr, err := audit.Open(b.TempDir(), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer tr.Close()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := tr.AppendEnvelope(envs[i], uint64(i)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAuditVerify: records verified per second (chain, canonical form,
// envelope signature) over a 1,000-record thread.
func BenchmarkAuditVerify(b *testing.B) { benchVerify(b) }

// BenchmarkAuditVerifyWindowed is BenchmarkAuditVerify with the thread
// walked a window of 256 lines at a time, as a thread file over 4 MiB is
// (a window holds 4,096 lines, or 8 MiB).
func BenchmarkAuditVerifyWindowed(b *testing.B) {
	defer audit.StreamEveryThread(256, nil)()
	benchVerify(b)
}

func benchVerify(b *testing.B) {
	const n = 1000
	dir := b.TempDir()
	tr, _ := audit.Open(dir, nil)
	for i, e := range benchEnvelopes(b, n) {
		if _, err := tr.AppendEnvelope(e, uint64(i)); err != nil {
			b.Fatal(err)
		}
	}
	tr.Close()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		rep, err := audit.Verify(dir)
		if err != nil || rep.Records != n {
			b.Fatal(fmt.Sprint(rep, err))
		}
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkRoot is a CHECKPOINT's audit root on a trail of many threads
// (a long-running node keeps a thread file per NEED it saw): read from
// every head file (what Trail.Root did until session 10, the peer) and
// from the trail's index after one append.
func BenchmarkRoot(b *testing.B) {
	for _, n := range []int{10_000, 100_000} {
		dir := b.TempDir()
		for i := 0; i < n; i++ {
			th := envelope.HashRef([]byte(fmt.Sprint(i)))
			name, _ := audit.FileName(th)
			os.WriteFile(filepath.Join(dir, name), []byte("x\n"), 0o644)
			head, _ := json.Marshal(map[string]any{"seq": 1, "hash": th})
			os.WriteFile(filepath.Join(dir, strings.TrimSuffix(name, ".jsonl")+".head"), head, 0o644)
		}
		b.Run(fmt.Sprintf("threads=%d/heads-read", n), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				heads, err := audit.Heads(dir)
				if err != nil {
					b.Fatal(err)
				}
				audit.MerkleRoot(heads)
			}
		})
		tr, err := audit.Open(dir, nil)
		if err != nil {
			b.Fatal(err)
		}
		tr.Root() // the first reads every head
		e, _ := envelope.Sign(envelope.Draft{Verb: envelope.VerbNeed, Lamport: 1}, key(3))
		b.Run(fmt.Sprintf("threads=%d/index", n), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				if i == 0 {
					tr.AppendEnvelope(e, uint64(n+1)) // a new thread joins the order
				}
				if _, err := tr.Root(); err != nil {
					b.Fatal(err)
				}
			}
		})
		tr.Close()
	}
}
