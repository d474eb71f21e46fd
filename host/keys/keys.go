package keys

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/canswarm/swarmhost/abi/envelope"
	"github.com/canswarm/swarmhost/internal/atomicfile"
)

// Key is an Ed25519 key pair.
type Key struct {
	Private ed25519.PrivateKey
	Public  ed25519.PublicKey
}

// PublicHex is the public key as the protocol writes it: 64 lowercase hex.
func (k *Key) PublicHex() string { return hex.EncodeToString(k.Public) }

// Generate makes a new key from r (crypto/rand.Reader when nil).
func Generate(r io.Reader) (*Key, error) {
	if r == nil {
		r = rand.Reader
	}
	pub, priv, err := ed25519.GenerateKey(r)
	if err != nil {
		return nil, fmt.Errorf("generate key: %w", err)
	}
	return &Key{Private: priv, Public: pub}, nil
}

// FromSeed derives the key of a 32-byte seed.
func FromSeed(seed []byte) (*Key, error) {
	if len(seed) != ed25519.SeedSize {
		return nil, fmt.Errorf("seed is %d bytes, want %d", len(seed), ed25519.SeedSize)
	}
	priv := ed25519.NewKeyFromSeed(seed)
	return &Key{Private: priv, Public: priv.Public().(ed25519.PublicKey)}, nil
}

// file is the on-disk form of a key.
type file struct {
	V         int    `json:"v"`
	PublicKey string `json:"public_key"`
	Seed      string `json:"seed"`
}

// ErrExists is returned by Save when the key file is already there.
var ErrExists = errors.New("key file already exists")

// Save writes the key to path with mode 0600, atomically, refusing to
// replace an existing file.
func (k *Key) Save(path string) error {
	if _, err := os.Lstat(path); err == nil {
		return fmt.Errorf("save key %s: %w (remove it first to replace the identity)", path, ErrExists)
	}
	text, err := json.Marshal(file{V: 1, PublicKey: k.PublicHex(), Seed: hex.EncodeToString(k.Private.Seed())})
	if err != nil {
		return fmt.Errorf("save key %s: %w", path, err)
	}
	text = append(text, '\n')
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("save key %s: %w", path, err)
	}
	// NoReplace links the written file into place, which fails if the name
	// appeared meanwhile: a concurrent Save cannot silently replace a key.
	if err := atomicfile.Write(path, text, atomicfile.Options{Perm: 0o600, NoReplace: true}); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("save key %s: %w", path, ErrExists)
		}
		return fmt.Errorf("save key: %w", err)
	}
	return nil
}

// Load reads a key file. warn, when not nil, is told about a file whose
// permissions let group or others read it.
func Load(path string, warn func(string)) (*Key, error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("load key: %w", err)
	}
	if perm := info.Mode().Perm(); perm&0o077 != 0 && warn != nil {
		warn(fmt.Sprintf("key file %s has mode %04o: anyone in its group or beyond may read the secret seed; chmod 600 it", path, perm))
	}
	text, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load key: %w", err)
	}
	k, err := Parse(text)
	if err != nil {
		return nil, fmt.Errorf("load key %s: %w", path, err)
	}
	return k, nil
}

// Parse reads the JSON form of a key file.
func Parse(text []byte) (*Key, error) {
	var f file
	dec := json.NewDecoder(bytes.NewReader(text))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("not a key file: %w", err)
	}
	if f.V != 1 {
		return nil, fmt.Errorf("key file version %d, want 1", f.V)
	}
	if len(f.Seed) != 64 || !envelope.IsPublicKey(f.Seed) {
		return nil, fmt.Errorf("seed must be 64 lowercase hex digits")
	}
	seed, _ := hex.DecodeString(f.Seed)
	k, err := FromSeed(seed)
	if err != nil {
		return nil, err
	}
	if f.PublicKey != k.PublicHex() {
		return nil, fmt.Errorf("public_key %s does not belong to the seed (it derives %s)", f.PublicKey, k.PublicHex())
	}
	return k, nil
}

// BlobPutter is the part of a content-addressed store IssueAndStore needs.
type BlobPutter interface {
	Put(ctx context.Context, data []byte) (string, error)
}

// IssueAndStore signs a capability token for subject with issuer and puts
// its JCS form into store. It returns the token and its ref.
func IssueAndStore(ctx context.Context, store BlobPutter, issuer *Key, subject ed25519.PublicKey,
	roles []envelope.Role, capabilities []string, notAfter uint64) (*envelope.Token, string, error) {
	tok, err := envelope.IssueToken(issuer.Private, subject, roles, capabilities, notAfter)
	if err != nil {
		return nil, "", err
	}
	canon, err := tok.Canonical()
	if err != nil {
		return nil, "", err
	}
	ref, err := store.Put(ctx, canon)
	if err != nil {
		return nil, "", fmt.Errorf("store capability token: %w", err)
	}
	if want := envelope.HashRef(canon); ref != want {
		return nil, "", fmt.Errorf("store capability token: store answered ref %s, want %s", ref, want)
	}
	return tok, ref, nil
}
