package replay_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gowebpki/jcs"

	"github.com/canswarm/swarmhost/abi/envelope"
	"github.com/canswarm/swarmhost/host/audit"
	"github.com/canswarm/swarmhost/host/demo"
	"github.com/canswarm/swarmhost/host/replay"
	"github.com/canswarm/swarmhost/internal/plugintest"
)

var demoDir string // a demo's data folder, made once

func TestMain(m *testing.M) {
	code := m.Run()
	for _, d := range []string{demoDir, benchDir} {
		if d != "" {
			os.RemoveAll(d)
		}
	}
	plugintest.Cleanup()
	os.Exit(code)
}

// demoTrail runs the demo once and returns a fresh copy of its data folder.
func demoTrail(t *testing.T) string {
	t.Helper()
	if demoDir == "" {
		dir, err := os.MkdirTemp("", "swarmhost-replay-demo-")
		if err != nil {
			t.Fatal(err)
		}
		src := filepath.Dir(plugintest.Path(t, "classifier"))
		if _, err := demo.Run(context.Background(), demo.Options{DataDir: dir, PluginsSrc: src}); err != nil {
			t.Fatal(err)
		}
		demoDir = dir
	}
	dst := t.TempDir()
	if err := os.CopyFS(dst, os.DirFS(demoDir)); err != nil {
		t.Fatal(err)
	}
	return dst
}

// needThread returns the NEED thread's file: the one whose first envelope
// is a NEED.
func needThread(t *testing.T, dir string) (thread, path string) {
	t.Helper()
	threads, err := audit.Threads(filepath.Join(dir, "audit"))
	if err != nil {
		t.Fatal(err)
	}
	for _, th := range threads {
		name, _ := audit.FileName(th)
		p := filepath.Join(dir, "audit", name)
		b, _ := os.ReadFile(p)
		if bytes.Contains(b, []byte(`"verb":"NEED"`)) {
			return th, p
		}
	}
	t.Fatal("no NEED thread in the demo trail")
	return "", ""
}

func lines(t *testing.T, path string) [][]byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return bytes.Split(bytes.TrimRight(b, "\n"), []byte("\n"))
}

func write(t *testing.T, path string, ls [][]byte) {
	t.Helper()
	if err := os.WriteFile(path, append(bytes.Join(ls, []byte("\n")), '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
}

// find returns the index of the first line holding all of subs.
func find(t *testing.T, ls [][]byte, subs ...string) int {
	t.Helper()
	for i, l := range ls {
		ok := true
		for _, s := range subs {
			ok = ok && bytes.Contains(l, []byte(s))
		}
		if ok {
			return i
		}
	}
	t.Fatalf("no line with %q", subs)
	return -1
}

// rechain recomputes every prev and the head, as a forger who edits a line
// and covers the chain would: the trail's own checks then pass.
func rechain(t *testing.T, dir, thread string, ls [][]byte) [][]byte {
	t.Helper()
	prev := ""
	for i, l := range ls {
		var m map[string]any
		if err := json.Unmarshal(l, &m); err != nil {
			t.Fatal(err)
		}
		m["prev"] = prev
		raw, _ := json.Marshal(m)
		c, err := jcs.Transform(raw)
		if err != nil {
			t.Fatal(err)
		}
		ls[i] = c
		prev = audit.LineHash(c)
	}
	name, _ := audit.FileName(thread)
	head, _ := json.Marshal(map[string]any{"seq": len(ls), "hash": prev})
	if err := os.WriteFile(filepath.Join(dir, "audit", strings.TrimSuffix(name, ".jsonl")+".head"), head, 0o644); err != nil {
		t.Fatal(err)
	}
	return ls
}

// assertLocated asserts replay fails, read whole and streamed, and names
// the thread and line.
func assertLocated(t *testing.T, dir, thread string, line int) {
	t.Helper()
	_, err := runBoth(t, replay.Options{DataDir: dir})
	kind, th, l := located(err)
	if kind == "" {
		t.Fatalf("replay of a tampered trail: %v, want a divergence at %s line %d", err, thread, line)
	}
	if th != thread || l != line {
		t.Fatalf("%s at %s line %d, want %s line %d: %v", kind, th, l, thread, line, err)
	}
}

func TestReplayOfTheDemoIsOK(t *testing.T) {
	dir := demoTrail(t)
	var out bytes.Buffer
	rep, err := runBoth(t, replay.Options{DataDir: dir, Out: &out})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Decisions != 2 || rep.Agents == 0 || rep.Evals == 0 || !strings.Contains(out.String(), "replay: ok,") {
		t.Fatalf("report %+v\n%s", rep, out.String())
	}
}

func TestTamperEditedPayload(t *testing.T) {
	dir := demoTrail(t)
	th, p := needThread(t, dir)
	ls := lines(t, p)
	i := find(t, ls, `"kind":"envelope"`, `"verb":"PROPOSE"`, `"price":`)
	ls[i] = bytes.Replace(ls[i], []byte(`"price":`), []byte(`"price":9`), 1)
	write(t, p, ls)
	assertLocated(t, dir, th, i+1)
}

func TestTamperEditedSignature(t *testing.T) {
	dir := demoTrail(t)
	th, p := needThread(t, dir)
	ls := lines(t, p)
	i := find(t, ls, `"kind":"envelope"`, `"verb":"COMMIT"`)
	j := bytes.Index(ls[i], []byte(`"sig":"`)) + len(`"sig":"`)
	if ls[i][j] == 'a' {
		ls[i][j] = 'b'
	} else {
		ls[i][j] = 'a'
	}
	write(t, p, ls)
	assertLocated(t, dir, th, i+1)
}

func TestTamperDeletedLine(t *testing.T) {
	dir := demoTrail(t)
	th, p := needThread(t, dir)
	ls := lines(t, p)
	i := find(t, ls, `"kind":"envelope"`, `"verb":"ATTEST"`)
	write(t, p, append(ls[:i:i], ls[i+1:]...))
	assertLocated(t, dir, th, i+1)
}

func TestTamperSwappedLines(t *testing.T) {
	dir := demoTrail(t)
	th, p := needThread(t, dir)
	ls := lines(t, p)
	i := find(t, ls, `"kind":"envelope"`, `"verb":"CLAIM"`)
	ls[i], ls[i+1] = ls[i+1], ls[i]
	write(t, p, ls)
	assertLocated(t, dir, th, i+1)
}

// The capsule in the CAS replaced by other bytes: the first evaluation
// that needs it (the NEED's admit) diverges.
func TestTamperCapsuleSwappedInCAS(t *testing.T) {
	dir := demoTrail(t)
	th, p := needThread(t, dir)
	ls := lines(t, p)
	var need struct {
		Envelope json.RawMessage `json:"envelope"`
	}
	json.Unmarshal(ls[find(t, ls, `"verb":"NEED"`)], &need)
	e, err := envelope.Decode(need.Envelope)
	if err != nil {
		t.Fatal(err)
	}
	capsule := e.PolicyCapsuleHash
	file := filepath.Join(dir, "cas", capsule[7:9], capsule[9:])
	if _, err := os.Stat(file); err != nil {
		t.Fatalf("capsule file: %v", err)
	}
	other := filepath.Join(dir, "policies", "classify", "classify.rego") // any other bytes
	b, _ := os.ReadFile(other)
	if err := os.WriteFile(file, b, 0o644); err != nil {
		t.Fatal(err)
	}
	i := find(t, ls, `"kind":"policy"`)
	assertLocated(t, dir, th, i+1)
}

// An agent line's recorded gas changed, the chain covered: re-running the
// verifier gives the true gas.
func TestTamperAttestationGasChanged(t *testing.T) {
	dir := demoTrail(t)
	th, p := needThread(t, dir)
	ls := lines(t, p)
	i := find(t, ls, `"kind":"agent"`, `ATTEST`)
	var rec map[string]any
	json.Unmarshal(ls[i], &rec)
	body := rec["envelope"].(map[string]any)
	body["gas_used"] = body["gas_used"].(float64) + 1
	ls[i], _ = json.Marshal(rec)
	write(t, p, rechain(t, dir, th, ls))
	assertLocated(t, dir, th, i+1)
}

// The FINALIZE's attestation list edited and the envelope re-signed by a
// key that is not the host's, the chain covered: the forged FINALIZE fails
// the host's token.
func TestTamperFinalizeResignedByAnotherKey(t *testing.T) {
	dir := demoTrail(t)
	th, p := needThread(t, dir)
	ls := lines(t, p)
	i := find(t, ls, `"kind":"envelope"`, `"verb":"FINALIZE"`)
	var rec map[string]json.RawMessage
	json.Unmarshal(ls[i], &rec)
	e, err := envelope.Verify(rec["envelope"])
	if err != nil {
		t.Fatal(err)
	}
	var payload map[string]any
	json.Unmarshal(e.Payload, &payload)
	atts := payload["attestations"].([]any)
	payload["attestations"] = atts[:len(atts)-1]
	_, forger, _ := ed25519.GenerateKey(nil)
	forged, err := envelope.Sign(envelope.Draft{ThreadID: e.ThreadID, Verb: e.Verb, Lamport: e.Lamport,
		Capability: e.Capability, ContentRefs: e.ContentRefs, PolicyCapsuleHash: e.PolicyCapsuleHash, Payload: payload}, forger)
	if err != nil {
		t.Fatal(err)
	}
	rec["envelope"] = forged.Wire()
	ls[i], _ = json.Marshal(rec)
	write(t, p, rechain(t, dir, th, ls))
	assertLocated(t, dir, th, i+1)
}

// A line whose received_lamport goes back, the chain covered: read whole
// or streamed, the replay names that line (a node's lines increase in it).
func TestTamperReceivedLamportGoesBack(t *testing.T) {
	dir := demoTrail(t)
	th, p := needThread(t, dir)
	ls := lines(t, p)
	i := find(t, ls, `"kind":"envelope"`, `"verb":"COMMIT"`)
	var rec map[string]any
	json.Unmarshal(ls[i], &rec)
	rec["received_lamport"] = 1
	ls[i], _ = json.Marshal(rec)
	write(t, p, rechain(t, dir, th, ls))
	assertLocated(t, dir, th, i+1)
}

// Two faults in one trail, a signature edited (its chain covered) and a
// later line deleted: read whole or streamed, the replay names the first
// in line order, as audit verify does (read whole, it used to name the
// broken chain first, wherever it was).
func TestTamperTwoFaultsNameTheFirst(t *testing.T) {
	dir := demoTrail(t)
	th, p := needThread(t, dir)
	ls := lines(t, p)
	i := find(t, ls, `"kind":"envelope"`, `"verb":"CLAIM"`)
	j := bytes.Index(ls[i], []byte(`"sig":"`)) + len(`"sig":"`)
	ls[i][j] ^= 1
	ls = rechain(t, dir, th, ls)
	k := find(t, ls, `"kind":"envelope"`, `"verb":"FINALIZE"`)
	write(t, p, append(ls[:k:k], ls[k+1:]...))
	assertLocated(t, dir, th, i+1)
}
