package audit_test

import (
	"fmt"
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
func BenchmarkAuditVerify(b *testing.B) {
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
