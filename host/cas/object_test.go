package cas_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/canswarm/swarmhost/host/bus"
	"github.com/canswarm/swarmhost/host/cas"
	"github.com/canswarm/swarmhost/host/cas/castest"
)

// TestObjectStoreConformance runs the suite against a JetStream object
// store on a real embedded nats-server; each subtest gets its own bucket.
func TestObjectStoreConformance(t *testing.T) {
	checkLeaks(t)
	b := openBus(t)
	js := b.JetStream()
	n := 0
	castest.Run(t, func(t *testing.T) (cas.Store, func(string)) {
		n++
		s, raw := objectStore(t, js, fmt.Sprintf("cas%d", n))
		return s, func(ref string) { overwrite(t, raw, ref) }
	})
}

// objectStore opens the CAS on a new bucket, and the bucket itself through
// the raw object store API (to damage it behind the CAS's back).
func objectStore(t *testing.T, js jetstream.JetStream, bucket string) (*cas.ObjectStore, jetstream.ObjectStore) {
	t.Helper()
	s, err := cas.NewObjectStore(ctx(t), js, bucket)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := js.ObjectStore(ctx(t), bucket)
	if err != nil {
		t.Fatal(err)
	}
	return s, raw
}

// overwrite replaces an object's bytes under the same name through the raw
// object store API: the object store's own digest then matches the new
// bytes, so only the ref check can catch it.
func overwrite(t *testing.T, raw jetstream.ObjectStore, ref string) {
	t.Helper()
	name := strings.TrimPrefix(ref, "sha256:")
	data, err := raw.GetBytes(ctx(t), name)
	if err != nil {
		t.Fatal(err)
	}
	if len(data) == 0 {
		data = []byte{0}
	} else {
		data[len(data)/2] ^= 0x01
	}
	if _, err := raw.PutBytes(ctx(t), name, data); err != nil {
		t.Fatal(err)
	}
}

// TestObjectStoreReopen: a second NewObjectStore opens the existing bucket
// and sees what the first stored.
func TestObjectStoreReopen(t *testing.T) {
	checkLeaks(t)
	b := openBus(t)
	s1, err := cas.NewObjectStore(ctx(t), b.JetStream(), "shared")
	if err != nil {
		t.Fatal(err)
	}
	ref, err := s1.Put(ctx(t), []byte("shared blob"))
	if err != nil {
		t.Fatal(err)
	}
	s2, err := cas.NewObjectStore(ctx(t), b.JetStream(), "shared")
	if err != nil {
		t.Fatal(err)
	}
	if got, err := s2.Get(ctx(t), ref); err != nil || string(got) != "shared blob" {
		t.Fatalf("second handle: %q, %v", got, err)
	}
	if _, err := cas.NewObjectStore(ctx(t), b.JetStream(), "bad.name"); err == nil {
		t.Error("a bucket name with a dot was accepted")
	}
	if _, err := cas.NewObjectStore(ctx(t), nil, "x"); err == nil {
		t.Error("nil JetStream accepted")
	}
}

func openBus(t *testing.T) *bus.Bus {
	t.Helper()
	b, err := bus.Open(ctx(t), bus.Config{DataDir: t.TempDir()})
	if err != nil {
		t.Fatalf("bus.Open: %v", err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

// TestObjectStoreDigestMismatch: when the object store's own digest check
// fails (its record no longer matches the chunks), Get reports ErrCorrupt
// too, and Put repairs the record.
func TestObjectStoreDigestMismatch(t *testing.T) {
	checkLeaks(t)
	b := openBus(t)
	js := b.JetStream()
	s, err := cas.NewObjectStore(ctx(t), js, "digest")
	if err != nil {
		t.Fatal(err)
	}
	data := []byte("chunks stay, record lies")
	ref, err := s.Put(ctx(t), data)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := js.ObjectStore(ctx(t), "digest")
	name := strings.TrimPrefix(ref, "sha256:")
	info, err := raw.GetInfo(ctx(t), name)
	if err != nil {
		t.Fatal(err)
	}
	// Rewrite the meta record with the digest of other bytes, keeping the
	// chunks: what a torn or tampered record looks like.
	info.Digest = sha256Digest([]byte("other bytes"))
	meta, _ := json.Marshal(info)
	m := nats.NewMsg("$O.digest.M." + base64.URLEncoding.EncodeToString([]byte(name)))
	m.Header.Set(jetstream.MsgRollup, jetstream.MsgRollupSubject)
	m.Data = meta
	if _, err := js.PublishMsg(ctx(t), m); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx(t), ref); !errors.Is(err, cas.ErrCorrupt) || !errors.Is(err, jetstream.ErrDigestMismatch) {
		t.Fatalf("Get with a lying record: %v, want ErrCorrupt wrapping the digest mismatch", err)
	}
	if _, err := s.Put(ctx(t), data); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Get(ctx(t), ref); err != nil || string(got) != string(data) {
		t.Fatalf("after repair: %q, %v", got, err)
	}
}

func sha256Digest(b []byte) string {
	h := sha256.Sum256(b)
	return "SHA-256=" + base64.URLEncoding.EncodeToString(h[:])
}

// checkLeaks fails the test if goroutines it started outlive it. Call it
// first so that its cleanup runs after every other.
func checkLeaks(t *testing.T) {
	before := runtime.NumGoroutine()
	t.Cleanup(func() {
		deadline := time.Now().Add(5 * time.Second)
		for runtime.NumGoroutine() > before {
			if time.Now().After(deadline) {
				buf := make([]byte, 1<<20)
				t.Errorf("goroutines leaked: %d before, %d after\n%s", before, runtime.NumGoroutine(), buf[:runtime.Stack(buf, true)])
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	})
}
