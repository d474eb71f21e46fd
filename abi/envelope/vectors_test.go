package envelope_test

import (
	"bufio"
	"bytes"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/canswarm/swarmhost/abi/envelope"
)

// vectorDirs are the places the shared test vectors are read from: the copy
// kept in testdata (always there), and ../shared/vectors beside the checkout
// when present, so that vectors added there are checked without a copy.
func vectorDirs(t *testing.T) []string {
	// testdata/independent holds envelopes made by a second implementation
	// of PROTOCOL.md section 2 (envelope.mjs, JavaScript) with its verdicts.
	dirs := []string{"testdata/vectors", "testdata/independent"}
	shared := filepath.Join("..", "..", "..", "shared", "vectors")
	if _, err := os.Stat(filepath.Join(shared, "envelopes.jsonl")); err == nil {
		dirs = append(dirs, shared)
	} else {
		t.Logf("no %s beside the checkout; checking the testdata copy only", shared)
	}
	return dirs
}

type vectorCase struct {
	Name     string `json:"name"`
	Expect   string `json:"expect"`
	Envelope string `json:"envelope"`
}

type keyFile struct {
	V         int    `json:"v"`
	PublicKey string `json:"public_key"`
	Seed      string `json:"seed"`
}

func readVectors(t *testing.T, dir string) ([]vectorCase, ed25519.PrivateKey) {
	t.Helper()
	kb, err := os.ReadFile(filepath.Join(dir, "key.json"))
	if err != nil {
		t.Fatal(err)
	}
	var kf keyFile
	if err := json.Unmarshal(kb, &kf); err != nil {
		t.Fatal(err)
	}
	seed, err := hex.DecodeString(kf.Seed)
	if err != nil {
		t.Fatal(err)
	}
	key := ed25519.NewKeyFromSeed(seed)
	if got := hex.EncodeToString(key.Public().(ed25519.PublicKey)); got != kf.PublicKey {
		t.Fatalf("key.json: seed gives public key %s, file says %s", got, kf.PublicKey)
	}
	f, err := os.Open(filepath.Join(dir, "envelopes.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var cases []vectorCase
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 4<<20)
	for sc.Scan() {
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		var c vectorCase
		if err := json.Unmarshal(sc.Bytes(), &c); err != nil {
			t.Fatalf("%s: %v", dir, err)
		}
		cases = append(cases, c)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(cases) == 0 {
		t.Fatalf("%s: no vectors", dir)
	}
	return cases, key
}

func TestSharedVectorsVerdicts(t *testing.T) {
	for _, dir := range vectorDirs(t) {
		cases, _ := readVectors(t, dir)
		for _, c := range cases {
			t.Run(dir+"/"+c.Name, func(t *testing.T) {
				_, err := envelope.Verify([]byte(c.Envelope))
				got := "ok"
				if err != nil {
					got = string(envelope.CodeOf(err))
					if got == "" {
						t.Fatalf("error without a code: %v", err)
					}
				}
				if got != c.Expect {
					t.Fatalf("verdict %s (%v), vectors expect %s", got, err, c.Expect)
				}
			})
		}
	}
}

// Ed25519 is deterministic: re-signing each ok vector's content with the
// vector key must reproduce its id, payload_hash, signature and wire bytes.
func TestSharedVectorsResign(t *testing.T) {
	for _, dir := range vectorDirs(t) {
		cases, key := readVectors(t, dir)
		n := 0
		for _, c := range cases {
			if c.Expect != "ok" {
				continue
			}
			n++
			t.Run(dir+"/"+c.Name, func(t *testing.T) {
				orig, err := envelope.Verify([]byte(c.Envelope))
				if err != nil {
					t.Fatal(err)
				}
				re, err := envelope.Sign(envelope.Draft{
					ThreadID: orig.ThreadID, Verb: orig.Verb, Lamport: orig.Lamport,
					Capability: orig.Capability, ContentRefs: orig.ContentRefs,
					PolicyCapsuleHash: orig.PolicyCapsuleHash, PolicyEvalDigest: orig.PolicyEvalDigest,
					Payload: json.RawMessage(orig.Payload),
				}, key)
				if err != nil {
					t.Fatal(err)
				}
				if re.ID != orig.ID || re.PayloadHash != orig.PayloadHash || re.Sig != orig.Sig {
					t.Fatalf("re-signed: id %s hash %s sig %s\nvector:   id %s hash %s sig %s",
						re.ID, re.PayloadHash, re.Sig, orig.ID, orig.PayloadHash, orig.Sig)
				}
				if !bytes.Equal(re.Wire(), orig.Wire()) {
					t.Fatalf("wire differs:\n%s\n%s", re.Wire(), orig.Wire())
				}
			})
		}
		if n == 0 {
			t.Fatalf("%s: no ok vectors to re-sign", dir)
		}
	}
}
