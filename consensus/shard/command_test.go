package shard_test

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/canswarm/swarmhost/abi/envelope"
	"github.com/canswarm/swarmhost/consensus/shard"
)

// mutate re-encodes a command as a map after f changed it.
func mutate(c shard.Command, f func(map[string]any)) []byte {
	var m map[string]any
	if err := json.Unmarshal(c.Encode(), &m); err != nil {
		panic(err)
	}
	f(m)
	b, err := json.Marshal(m)
	if err != nil {
		panic(err)
	}
	return b
}

func set(k string, v any) func(map[string]any) { return func(m map[string]any) { m[k] = v } }
func del(k string) func(map[string]any)        { return func(m map[string]any) { delete(m, k) } }

// otherBucketNeed returns a NEED whose bucket differs from need's.
func otherBucketNeed(need string) string {
	for i := 0; ; i++ {
		if n := ref("other", i); bucket(n) != bucket(need) {
			return n
		}
	}
}

// sameBucketNeed returns the k-th NEED other than need in need's bucket.
func sameBucketNeed(need string, k int) string {
	for i := 0; ; i++ {
		if n := ref("same", i); n != need && bucket(n) == bucket(need) {
			if k == 0 {
				return n
			}
			k--
		}
	}
}

func TestMalformed(t *testing.T) {
	N := needID(1)
	d, r, f := decide(N, 1, 0), release(N, 1, shard.ReasonExpired, 0), finalize(N, 1, 0)
	gc := &shard.GC{Bucket: bucket(N), Before: 10}
	many := make([]string, shard.MaxVerifiers+1)
	for i := range many {
		many[i] = pk(1000 + i)
	}
	cases := []struct {
		name string
		in   []byte
		code envelope.Code
	}{
		{"empty", nil, envelope.CodeMalformed},
		{"not JSON", []byte("{"), envelope.CodeMalformed},
		{"null", []byte("null"), envelope.CodeMalformed},
		{"list", []byte("[]"), envelope.CodeMalformed},
		{"no op", []byte("{}"), envelope.CodeMalformed},
		{"unknown op", mutate(d, set("op", "CLAIM")), envelope.CodeMalformed},
		{"op not a string", mutate(d, set("op", 1)), envelope.CodeMalformed},
		{"unknown key", mutate(d, set("fence", 1)), envelope.CodeMalformed},
		{"key of another command", mutate(d, set("reason", "expired")), envelope.CodeMalformed},
		{"missing key", mutate(d, del("decide_id")), envelope.CodeMalformed},
		{"null value", mutate(d, set("proposal", nil)), envelope.CodeMalformed},
		{"trailing data", append(d.Encode(), '{', '}'), envelope.CodeMalformed},
		{"too large", append(d.Encode(), bytes.Repeat([]byte(" "), shard.MaxCommandBytes)...), envelope.CodeTooLarge},
		{"need not a ref", mutate(d, set("need", strings.ToUpper(N))), envelope.CodeMalformed},
		{"bucket of another NEED", mutate(d, set("bucket", int(bucket(N))^1)), envelope.CodeMalformed},
		{"bucket 256", mutate(d, set("bucket", 256)), envelope.CodeMalformed},
		{"bucket negative", mutate(d, set("bucket", -1)), envelope.CodeMalformed},
		{"epoch 0", mutate(d, set("epoch", 0)), envelope.CodeMalformed},
		{"epoch above 2^53", mutate(d, set("epoch", uint64(1<<53+1))), envelope.CodeMalformed},
		{"epoch fractional", mutate(d, set("epoch", 1.5)), envelope.CodeMalformed},
		{"epoch a string", mutate(d, set("epoch", "1")), envelope.CodeMalformed},
		{"epoch exponent", bytes.Replace(d.Encode(), []byte(`"epoch":1`), []byte(`"epoch":1e0`), 1), envelope.CodeMalformed},
		{"proposal not a ref", mutate(d, set("proposal", "sha256:00")), envelope.CodeMalformed},
		{"worker_pk not a key", mutate(d, set("worker_pk", strings.ToUpper(pk(0)))), envelope.CodeMalformed},
		{"no verifiers", mutate(d, set("verifiers", []string{})), envelope.CodeMalformed},
		{"too many verifiers", mutate(d, set("verifiers", many)), envelope.CodeMalformed},
		{"verifier not a key", mutate(d, set("verifiers", []string{"x"})), envelope.CodeMalformed},
		{"verifier named twice", mutate(d, set("verifiers", []string{pk(7), pk(7)})), envelope.CodeMalformed},
		{"verifier is the worker", mutate(d, set("verifiers", []string{pk(0)})), envelope.CodeMalformed},
		{"verifiers not a list", mutate(d, set("verifiers", pk(7))), envelope.CodeMalformed},
		{"decide_id not a ref", mutate(d, set("decide_id", "")), envelope.CodeMalformed},
		{"release: unknown reason", mutate(r, set("reason", "bored")), envelope.CodeMalformed},
		{"release: max_epochs above 2^53", mutate(r, set("max_epochs", uint64(1<<53+1))), envelope.CodeMalformed},
		{"release: max_epochs negative", mutate(r, set("max_epochs", -1)), envelope.CodeMalformed},
		{"release: bucket mismatch", mutate(r, set("bucket", int(bucket(N))^1)), envelope.CodeMalformed},
		{"finalize: commit not a ref", mutate(f, set("commit", N+"0")), envelope.CodeMalformed},
		{"finalize: finalize_id missing", mutate(f, del("finalize_id")), envelope.CodeMalformed},
		{"finalize: epoch 0", mutate(f, set("epoch", 0)), envelope.CodeMalformed},
		{"gc: neither needs nor before", mutate(gc, del("before")), envelope.CodeMalformed},
		{"gc: both needs and before", mutate(gc, set("needs", []string{N})), envelope.CodeMalformed},
		{"gc: empty needs", mutate(gc, func(m map[string]any) { delete(m, "before"); m["needs"] = []string{} }), envelope.CodeMalformed},
		{"gc: NEED of another bucket", mutate(gc, func(m map[string]any) { delete(m, "before"); m["needs"] = []string{otherBucketNeed(N)} }), envelope.CodeMalformed},
		{"gc: NEED named twice", mutate(gc, func(m map[string]any) { delete(m, "before"); m["needs"] = []string{N, N} }), envelope.CodeMalformed},
		{"gc: before 0 alone", mutate(gc, set("before", 0)), envelope.CodeMalformed},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := shard.Parse(tc.in); envelope.CodeOf(err) != tc.code {
				t.Fatalf("Parse: %v, want code %s", err, tc.code)
			}
			m := shard.New()
			res := m.Apply(1, tc.in)
			want := shard.Result{Reason: tc.code, Detail: res.Detail}
			if res != want || res.Detail == "" {
				t.Fatalf("Apply: %s", res.Encode())
			}
			if st := m.Stats(); st != (shard.Stats{LastIndex: 1}) {
				t.Fatalf("a malformed command changed the state: %+v", st)
			}
		})
	}
}

// Parse accepts any spelling and Encode gives the canonical one.
func TestParseEncodeRoundTrip(t *testing.T) {
	N := needID(3)
	for _, c := range []shard.Command{
		decide(N, 2, 1), release(N, 4, shard.ReasonInvalidated, 9), finalize(N, 7, 0),
		&shard.GC{Bucket: bucket(N), Needs: []string{N, sameBucketNeed(N, 0)}}, &shard.GC{Bucket: 200, Before: 77},
	} {
		var indented bytes.Buffer
		json.Indent(&indented, c.Encode(), "", "  ")
		got, err := shard.Parse(indented.Bytes())
		if err != nil {
			t.Fatalf("%s: %v", c.Encode(), err)
		}
		if !bytes.Equal(got.Encode(), c.Encode()) || got.Op() != c.Op() {
			t.Fatalf("round trip %s -> %s", c.Encode(), got.Encode())
		}
	}
	// max_epochs may be left out.
	r := release(N, 1, shard.ReasonNoBids, 0)
	got, err := shard.Parse(mutate(r, del("max_epochs")))
	if err != nil || !bytes.Equal(got.Encode(), r.Encode()) {
		t.Fatalf("RELEASE without max_epochs: %v", err)
	}
	want := `{"bucket":` + itoa(bucket(N)) + `,"epoch":1,"max_epochs":0,"need":"` + N + `","op":"RELEASE","reason":"no_bids"}`
	if string(r.Encode()) != want {
		t.Fatalf("encoding %s, want %s", r.Encode(), want)
	}
}

func itoa(b uint8) string { s, _ := json.Marshal(b); return string(s) }

func TestResultEncoding(t *testing.T) {
	r := shard.Result{Accepted: true, Op: shard.OpDecide, Need: needID(1), Epoch: 2, Fence: 9, DecideID: ref("d")}
	want := `{"abandoned":false,"accepted":true,"decide_id":"` + ref("d") + `","detail":"","dropped":0,"epoch":2,` +
		`"fence":9,"need":"` + needID(1) + `","next_epoch":0,"op":"DECIDE","reason":""}`
	if string(r.Encode()) != want {
		t.Fatalf("got  %s\nwant %s", r.Encode(), want)
	}
	back, err := shard.DecodeResult(r.Encode())
	if err != nil || back != r {
		t.Fatalf("DecodeResult: %v %+v", err, back)
	}
	for _, bad := range []string{`{"x":1}`, want + "{}", "nope"} {
		if _, err := shard.DecodeResult([]byte(bad)); err == nil {
			t.Fatalf("DecodeResult accepted %s", bad)
		}
	}
	if r.Err() != nil {
		t.Fatal("Err on accepted")
	}
	rej := shard.Result{Reason: staleFence, Detail: "old"}
	if envelope.CodeOf(rej.Err()) != staleFence {
		t.Fatalf("Err: %v", rej.Err())
	}
}

func TestBucketOf(t *testing.T) {
	if b, ok := shard.BucketOf("sha256:ff" + strings.Repeat("0", 62)); !ok || b != 255 {
		t.Fatalf("ff: %d %v", b, ok)
	}
	if b, ok := shard.BucketOf("sha256:a7" + strings.Repeat("0", 62)); !ok || b != 0xa7 {
		t.Fatalf("a7: %d %v", b, ok)
	}
	if _, ok := shard.BucketOf("sha256:zz"); ok {
		t.Fatal("accepted a bad NEED id")
	}
}

// A Record prints its commands in their wire form and reads them back.
func TestRecordJSONRoundTrip(t *testing.T) {
	r := newReplica()
	n := needID(3)
	r.mustAccept(t, decide(n, 1, 1), release(n, 1, shard.ReasonExpired, 0), decide(n, 2, 2), finalize(n, 2, 2))
	rec, ok := r.m.Lookup(n)
	if !ok {
		t.Fatal("record missing")
	}
	b, err := json.Marshal(rec)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(b, []byte(`"decision":{"bucket":`)) || !bytes.Contains(b, []byte(`"op":"FINALIZE"`)) {
		t.Fatalf("commands not in wire form: %s", b)
	}
	var back shard.Record
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, rec) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", back, rec)
	}
	var d shard.Decide
	if err := json.Unmarshal(finalize(n, 2, 2).Encode(), &d); err == nil {
		t.Fatal("a FINALIZE read into a Decide")
	}
}
