package protocol

import (
	"encoding/json"
	"strings"
	"testing"
)

// A refusal shows a capsule's reasons, or its value, cut at a bound on a
// character boundary, saying how much was cut.
func TestAdmitRefusalIsBounded(t *testing.T) {
	long := strings.Repeat("é", maxRefusalDetail) // 2 bytes a character
	reasons, _ := json.Marshal(map[string]any{"refused": []string{"k " + long}})
	got := admitRefusal(&PolicyDone{Result: reasons})
	prefix := AdmitDenied + ": k "
	if !strings.HasPrefix(got, prefix) || !strings.HasSuffix(got, " more bytes)") {
		t.Fatalf("refusal %.80q...%q", got, got[max(0, len(got)-40):])
	}
	shown := strings.TrimPrefix(got, AdmitDenied+": ")
	shown = shown[:strings.Index(shown, "... (")]
	if len(shown) > maxRefusalDetail || !strings.HasPrefix(long, strings.TrimPrefix(shown, "k ")) {
		t.Fatalf("%d bytes shown, at most %d, and a whole prefix of the reason", len(shown), maxRefusalDetail)
	}
	if want := len("k "+long) - len(shown); !strings.HasSuffix(got, "... ("+itoa(uint64(want))+" more bytes)") {
		t.Fatalf("refusal ends %q, want %d more bytes", got[len(got)-30:], want)
	}
	short, _ := json.Marshal(map[string]any{"refused": "too many texts"})
	if got := admitRefusal(&PolicyDone{Result: short}); got != AdmitDenied+": too many texts" {
		t.Fatalf("a short reason: %q", got)
	}
}
