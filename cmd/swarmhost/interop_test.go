package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

const independent = "../../abi/envelope/testdata/independent/envelope.mjs"

// Live interoperability with a second implementation of PROTOCOL.md section
// 2 (JavaScript, Node's own Ed25519): what swarmhost signs verifies there,
// and what it signs verifies here, byte for byte. The recorded output of that
// implementation is checked on every run by abi/envelope's vector tests;
// this test re-runs it live where Node is installed.
func TestInteropWithIndependentImplementation(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node is not installed: the live cross-check needs it (the recorded vectors are still checked in abi/envelope)")
	}
	dir := t.TempDir()
	keyPath := filepath.Join(dir, "k.json")
	var out, errOut bytes.Buffer
	if code := run([]string{"keys", "gen", "--out", keyPath}, nil, &out, &errOut); code != 0 {
		t.Fatal(errOut.String())
	}
	payload := filepath.Join(dir, "p.json")
	os.WriteFile(payload, []byte(`{"capability":"classify","input":["caf\u00e9 \ud83d\ude00","a\"b"],"k":1,"n":1,"ratio":0.1}`), 0o644)

	// swarmhost signs, the other implementation verifies.
	out.Reset()
	if code := run([]string{"envelope", "sign", "--key", keyPath, "--verb", "NEED", "--lamport", "3", "--payload", payload,
		"--ref", "sha256:" + strings.Repeat("ab", 32)}, nil, &out, &errOut); code != 0 {
		t.Fatal(errOut.String())
	}
	signed := filepath.Join(dir, "need.json")
	os.WriteFile(signed, out.Bytes(), 0o644)
	res, err := exec.Command(node, independent, "verify", signed).CombinedOutput()
	if err != nil || !strings.HasPrefix(string(res), "ok sha256:") {
		t.Fatalf("the independent implementation rejects swarmhost's envelope: %s %v", res, err)
	}

	// The other implementation signs, swarmhost verifies; same key, same
	// content, so the bytes must be identical too.
	cmd := exec.Command(node, independent, "sign", keyPath)
	cmd.Stdin = strings.NewReader(`{"verb":"NEED","lamport":3,"content_refs":["sha256:` + strings.Repeat("ab", 32) + `"],"payload":{"capability":"classify","input":["café 😀","a\"b"],"k":1,"n":1,"ratio":0.1}}` + "\n")
	theirs, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(bytes.TrimSpace(theirs), bytes.TrimSpace(out.Bytes())) {
		t.Fatalf("the two implementations sign the same content differently:\nours   %s\ntheirs %s", out.Bytes(), theirs)
	}
	theirsPath := filepath.Join(dir, "theirs.json")
	os.WriteFile(theirsPath, theirs, 0o644)
	out.Reset()
	if code := run([]string{"envelope", "verify", theirsPath}, nil, &out, &errOut); code != 0 {
		t.Fatalf("swarmhost rejects the independent envelope: %s", out.String())
	}
}
