package protocol

import (
	"encoding/hex"
	"reflect"
	"testing"

	"pgregory.net/rapid"
)

// A retired thread's packed summary shows exactly what the thread showed
// when it retired, whatever its values: refs, empty values, values that
// are not refs (upper-case digits, another length, any text), more than
// 64 of them (the empty mask's width), a decision or none.
func TestRetiredSummaryShowsWhatItPacked(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		value := func(label string) string {
			switch rapid.IntRange(0, 4).Draw(t, label+" kind") {
			case 0:
				return ""
			case 1, 2:
				return "sha256:" + hex.EncodeToString(rapid.SliceOfN(rapid.Byte(), 32, 32).Draw(t, label))
			case 3:
				return "sha256:" + hex.EncodeToString(rapid.SliceOfN(rapid.Byte(), 32, 32).Draw(t, label))[:63] + "A"
			}
			return rapid.String().Draw(t, label)
		}
		info := ThreadInfo{ID: value("id"), Phase: Phase(rapid.SampledFrom([]string{"final", "abandoned", "refused"}).Draw(t, "phase")),
			Epoch: rapid.Uint64().Draw(t, "epoch"), Capability: rapid.String().Draw(t, "capability"), Capsule: value("capsule"),
			Commit: value("commit"), Result: value("result"), Finalize: value("finalize"), Refusal: rapid.String().Draw(t, "refusal"),
			Abandoned: rapid.String().Draw(t, "abandoned"), Retired: true, EnvelopesInTrail: rapid.IntRange(0, 1000).Draw(t, "envelopes")}
		if rapid.Bool().Draw(t, "decided") {
			info.Decision = &decision{Epoch: rapid.Uint64().Draw(t, "decision epoch"), Proposal: value("proposal"),
				WorkerPK: rapid.String().Draw(t, "worker"), Verifiers: rapid.SliceOf(rapid.String()).Draw(t, "verifiers"),
				Fence: rapid.Uint64().Draw(t, "fence"), DecideID: value("decide id")}
		}
		// A few, as a flow has, or enough to pass the 64 positions of the
		// empty mask.
		if n := rapid.OneOf(rapid.IntRange(0, 4), rapid.IntRange(58, 70)).Draw(t, "attestations"); n > 0 {
			for i := 0; i < n; i++ {
				info.Attestation = append(info.Attestation, value("attestation"))
			}
		}
		if got := retire(&info).info(info.ID); !reflect.DeepEqual(got, info) {
			t.Fatalf("packed and shown again:\n%+v\nwas\n%+v", got, info)
		}
	})
}
