package keys_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/canswarm/swarmhost/abi/envelope"
	"github.com/canswarm/swarmhost/host/keys"
)

func TestSaveLoadRoundTrip(t *testing.T) {
	dir := t.TempDir()
	k, err := keys.Generate(nil)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "sub", "k.json")
	if err := k.Save(p); err != nil {
		t.Fatal(err)
	}
	info, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != 0o600 {
		t.Fatalf("mode %04o, want 0600", info.Mode().Perm())
	}
	var warnings []string
	got, err := keys.Load(p, func(s string) { warnings = append(warnings, s) })
	if err != nil {
		t.Fatal(err)
	}
	if !got.Private.Equal(k.Private) || len(warnings) != 0 {
		t.Fatalf("loaded a different key or warned: %v", warnings)
	}
	if err := k.Save(p); !errors.Is(err, keys.ErrExists) {
		t.Fatalf("second Save must refuse: %v", err)
	}
}

func TestLoadWarnsOnLoosePermissions(t *testing.T) {
	p := filepath.Join(t.TempDir(), "k.json")
	k, _ := keys.Generate(nil)
	if err := k.Save(p); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, 0o644); err != nil {
		t.Fatal(err)
	}
	var warnings []string
	if _, err := keys.Load(p, func(s string) { warnings = append(warnings, s) }); err != nil {
		t.Fatal(err)
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0], "0644") {
		t.Fatalf("want one warning naming the mode, got %q", warnings)
	}
}

// The shared vectors' key file is in the format keys gen writes.
func TestLoadSharedVectorKey(t *testing.T) {
	k, err := keys.Load("../../abi/envelope/testdata/vectors/key.json", nil)
	if err != nil {
		t.Fatal(err)
	}
	if k.PublicHex() != "09b43880ba16c241aebc084968d79008a6b45cf446b2a1c09fd1b668a069662c" {
		t.Fatalf("public key %s", k.PublicHex())
	}
}

func TestParseRefusesBadFiles(t *testing.T) {
	k, _ := keys.FromSeed(bytes.Repeat([]byte{7}, 32))
	other, _ := keys.FromSeed(bytes.Repeat([]byte{8}, 32))
	seed := strings.Repeat("07", 32)
	cases := map[string]string{
		"not json":        `{`,
		"version 2":       `{"v":2,"public_key":"` + k.PublicHex() + `","seed":"` + seed + `"}`,
		"short seed":      `{"v":1,"public_key":"` + k.PublicHex() + `","seed":"0707"}`,
		"upper-case seed": `{"v":1,"public_key":"` + k.PublicHex() + `","seed":"` + strings.ToUpper(strings.Repeat("0a", 32)) + `"}`,
		"mismatched key":  `{"v":1,"public_key":"` + other.PublicHex() + `","seed":"` + seed + `"}`,
		"unknown field":   `{"v":1,"public_key":"` + k.PublicHex() + `","seed":"` + seed + `","x":1}`,
		"missing seed":    `{"v":1,"public_key":"` + k.PublicHex() + `"}`,
	}
	for name, text := range cases {
		if _, err := keys.Parse([]byte(text)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if got, err := keys.Parse([]byte(`{"v":1,"public_key":"` + k.PublicHex() + `","seed":"` + seed + `"}`)); err != nil || !got.Public.Equal(k.Public) {
		t.Fatalf("good file: %v", err)
	}
}

func TestStoreEnsureIsStable(t *testing.T) {
	s, err := keys.NewStore(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	pubs := make([]string, 8)
	for i := range pubs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			k, err := s.Ensure("host")
			if err != nil {
				t.Error(err)
				return
			}
			pubs[i] = k.PublicHex()
		}()
	}
	wg.Wait()
	for _, p := range pubs {
		if p != pubs[0] {
			t.Fatal("Ensure created two different keys for one name")
		}
	}
	if _, err := s.Ensure("../escape"); err == nil {
		t.Fatal("a key name with a path in it must be refused")
	}
	names, _ := s.Names()
	if len(names) != 1 || names[0] != "host" {
		t.Fatalf("names %v", names)
	}
}

type memBlobs map[string][]byte

func (m memBlobs) Put(_ context.Context, b []byte) (string, error) {
	r := envelope.HashRef(b)
	m[r] = append([]byte(nil), b...)
	return r, nil
}

func TestIssueAndStore(t *testing.T) {
	root, _ := keys.Generate(nil)
	worker, _ := keys.Generate(nil)
	blobs := memBlobs{}
	tok, ref, err := keys.IssueAndStore(context.Background(), blobs, root, worker.Public,
		[]envelope.Role{envelope.RoleWorker}, []string{"classify"}, 0)
	if err != nil {
		t.Fatal(err)
	}
	stored, err := envelope.ParseToken(blobs[ref])
	if err != nil {
		t.Fatal(err)
	}
	e, err := envelope.Sign(envelope.Draft{ThreadID: ref, Verb: envelope.VerbClaim, Lamport: 3, Capability: ref}, worker.Private)
	if err != nil {
		t.Fatal(err)
	}
	if err := envelope.CheckToken(stored, e, envelope.Roots{root.PublicHex()}); err != nil {
		t.Fatalf("stored token does not authorise its subject: %v", err)
	}
	if tok.SubjectPK != envelope.EncodePublicKey(worker.Public) {
		t.Fatal("subject")
	}
	_ = ed25519.PublicKeySize
}
