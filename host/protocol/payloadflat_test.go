package protocol

import (
	"encoding/json"
	"reflect"
	"testing"
	"unicode/utf8"

	"github.com/canswarm/swarmhost/host/protocol/jsontext"
)

// agreeFlat checks, for one payload type, that whatever DecodeFlat takes
// is decoded as encoding/json decodes it; it reports whether it took it.
func agreeFlat[T any, P flatPayload[T]](t *testing.T, raw []byte) bool {
	t.Helper()
	var got, want T
	if !jsontext.DecodeFlat(raw, P(&got).fields()) {
		return false
	}
	if err := json.Unmarshal(raw, &want); err != nil {
		t.Fatalf("%T %s: taken flat, but encoding/json says %v", got, raw, err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%T %s:\n flat %+v\n json %+v", got, raw, got, want)
	}
	return true
}

func agreeAllPayloads(t *testing.T, raw []byte) (taken int) {
	for _, ok := range []bool{agreeFlat[needPayload](t, raw), agreeFlat[decidePayload](t, raw), agreeFlat[fencedPayload](t, raw),
		agreeFlat[releasePayload](t, raw), agreeFlat[commitPayload](t, raw), agreeFlat[attestPayload](t, raw),
		agreeFlat[finalizePayload](t, raw), agreeFlat[challengePayload](t, raw), agreeFlat[invalidatePayload](t, raw),
		agreeFlat[reconcilePayload](t, raw), agreeFlat[checkpointPayload](t, raw)} {
		if ok {
			taken++
		}
	}
	return taken
}

var payloadSeeds = []string{
	`{"bid_window_ms":400,"capability":"classify","deadline_ms":600000,"gas_budget":0,"input":["a","b"],"k":3,"lease_ms":30000,"max_epochs":3,"n":3,"nonce":"x"}`,
	`{"bid_window_ms":400,"capability":"classify","deadline_ms":600000,"gas_budget":0,"input":["a","b"],"k":3,"lease_ms":30000,"max_epochs":3,"n":3}`,
	`{"considered":["sha256:aa"],"epoch":1,"fence":7,"proposal":"sha256:aa","verifiers":["b","c"],"worker_pk":"d"}`,
	`{"epoch":1,"fence":7,"lease_ms":30000}`, `{"epoch":2,"reason":"expired"}`,
	`{"epoch":1,"fence":7,"result":"sha256:ee","telemetry":{"gas_used":5,"wall_ms":1}}`,
	`{"commit":"sha256:ee","epoch":1,"verdict":"pass"}`,
	`{"attestations":["sha256:1","sha256:2"],"commit":"sha256:ee","epoch":1,"result":"sha256:ff"}`,
	`{"claimed_digest":"sha256:1","target":"sha256:2"}`, `{"reason":"r","recomputed_digest":"sha256:1","target":"sha256:2"}`,
	`{"have":[],"plan_digest":"sha256:1"}`, `{"have":null,"plan_digest":"sha256:1"}`, `{"ops":[{"op":"ADD_TASK"}],"plan_digest":"x"}`,
	`{"audit_root":"sha256:1","decisions":"sha256:2","plan_digest":"sha256:3","upto_lamport":9}`,
	`{"epoch":-1}`, `{"epoch":1.5}`, `{"epoch":"1"}`, `{"epoch":1,"epoch":2}`, `{"Epoch":1}`, `{"reason":"caf\u00e9"}`,
	`{"verifiers":["a",null]}`, `{"input":null,"k":1}`, `{"nonce":1,"nonce":2}`, `{"telemetry":null}`, `{"epoch":123456789012345678901}`, `{}`, `[]`, `null`,
}

// The flat reader of payloads decodes what it takes as encoding/json does.
func FuzzPayloadsAgreeWithJSON(f *testing.F) {
	for _, s := range payloadSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		if !json.Valid(raw) || !utf8.Valid(raw) { // payloadOf's precondition (isObject)
			return
		}
		agreeAllPayloads(t, raw)
	})
}

// The flat path takes the payloads of a healthy flow (else the fuzz test
// above would hold by never taking any).
func TestFlatPathTakesFlowPayloads(t *testing.T) {
	for _, s := range append(append([]string{}, payloadSeeds[:11]...), payloadSeeds[12:14]...) {
		if agreeAllPayloads(t, []byte(s)) == 0 {
			t.Errorf("%s: no payload type takes it flat", s)
		}
	}
}
