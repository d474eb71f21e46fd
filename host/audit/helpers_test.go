package audit_test

import (
	"testing"

	"encoding/json"
	"github.com/gowebpki/jcs"

	"github.com/canswarm/swarmhost/host/audit"
)

func encodeRecord(t *testing.T, r audit.Record) []byte {
	t.Helper()
	text, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	canon, err := jcs.Transform(text)
	if err != nil {
		t.Fatal(err)
	}
	return canon
}
