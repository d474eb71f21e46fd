package cas_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/canswarm/swarmhost/host/cas"
	"github.com/canswarm/swarmhost/host/cas/castest"
)

// TestMirroredConformance runs the suite against a cluster host's store: a
// JetStream object store on a real embedded nats-server, mirrored into a
// file store. The corrupter damages both copies, so that a corrupt blob is
// one no copy of which can be trusted.
func TestMirroredConformance(t *testing.T) {
	checkLeaks(t)
	b := openBus(t)
	js := b.JetStream()
	n := 0
	castest.Run(t, func(t *testing.T) (cas.Store, func(string)) {
		n++
		shared, raw := objectStore(t, js, fmt.Sprintf("mirror%d", n))
		local := newFileStore(t)
		return cas.Mirrored(shared, local, func(s string) { t.Errorf("warned: %s", s) }), func(ref string) {
			overwrite(t, raw, ref)
			if has, _ := local.Has(ctx(t), ref); has {
				flipByte(t, blobPath(local.Dir(), ref))
			}
		}
	})
}

func newFileStore(t *testing.T) *cas.FileStore {
	t.Helper()
	s, err := cas.NewFileStore(filepath.Join(t.TempDir(), "cas"))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestMirroredKeepsWhatTheHostUses: every blob the host puts or reads ends
// up in its local store, so that the local store alone serves them once
// the shared store is gone.
func TestMirroredKeepsWhatTheHostUses(t *testing.T) {
	checkLeaks(t)
	b := openBus(t)
	shared, err := cas.NewObjectStore(ctx(t), b.JetStream(), "kept")
	if err != nil {
		t.Fatal(err)
	}
	local := newFileStore(t)
	m := cas.Mirrored(shared, local, func(s string) { t.Errorf("warned: %s", s) })

	put := []byte("put by this host")
	putRef, err := m.Put(ctx(t), put)
	if err != nil {
		t.Fatal(err)
	}
	other := []byte("put by another host, read by this one")
	otherRef, err := shared.Put(ctx(t), other)
	if err != nil {
		t.Fatal(err)
	}
	if has, _ := local.Has(ctx(t), otherRef); has {
		t.Fatal("the local store holds a blob this host never read")
	}
	if has, err := m.Has(ctx(t), otherRef); err != nil || !has {
		t.Fatalf("Has of a blob only the shared store holds: %v, %v", has, err)
	}
	if got, err := m.Get(ctx(t), otherRef); err != nil || !bytes.Equal(got, other) {
		t.Fatalf("Get through the mirror: %q, %v", got, err)
	}
	unread := []byte("never read by this host")
	unreadRef, err := shared.Put(ctx(t), unread)
	if err != nil {
		t.Fatal(err)
	}

	b.Close() // the cluster is gone: the local store alone answers
	for ref, want := range map[string][]byte{putRef: put, otherRef: other} {
		if got, err := local.Get(context.Background(), ref); err != nil || !bytes.Equal(got, want) {
			t.Errorf("local copy of %s: %q, %v", ref, got, err)
		}
		if got, err := m.Get(context.Background(), ref); err != nil || !bytes.Equal(got, want) {
			t.Errorf("Get of %s with the shared store gone: %q, %v", ref, got, err)
		}
	}
	if _, err := local.Get(context.Background(), unreadRef); !errors.Is(err, cas.ErrNotFound) {
		t.Errorf("a blob never read is copied: %v", err)
	}
}

// TestMirroredRepairsALocalCopy: a local copy gone corrupt is read from the
// shared store instead, and repaired.
func TestMirroredRepairsALocalCopy(t *testing.T) {
	shared, local := newFileStore(t), newFileStore(t)
	m := cas.Mirrored(shared, local, func(s string) { t.Errorf("warned: %s", s) })
	data := []byte("a blob whose local copy rots")
	ref, err := m.Put(ctx(t), data)
	if err != nil {
		t.Fatal(err)
	}
	flipByte(t, blobPath(local.Dir(), ref))
	if got, err := m.Get(ctx(t), ref); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("Get with a corrupt local copy: %q, %v", got, err)
	}
	if got, err := local.Get(ctx(t), ref); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("the local copy was not repaired: %q, %v", got, err)
	}
}

// failingPut is a local store that cannot be written (a full disk).
type failingPut struct{ cas.Store }

func (failingPut) Put(context.Context, []byte) (string, error) {
	return "", errors.New("no space left on device")
}

// TestMirroredWarnsOfALostCopy: a local copy that cannot be written does
// not fail the host's Put or Get (the blob is in the shared store), and is
// warned of by ref.
func TestMirroredWarnsOfALostCopy(t *testing.T) {
	shared := newFileStore(t)
	var warnings []string
	m := cas.Mirrored(shared, failingPut{newFileStore(t)}, func(s string) { warnings = append(warnings, s) })
	data := []byte("kept only in the shared store")
	ref, err := m.Put(ctx(t), data)
	if err != nil {
		t.Fatalf("Put failed with the local copy: %v", err)
	}
	if got, err := m.Get(ctx(t), ref); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("Get: %q, %v", got, err)
	}
	if len(warnings) != 2 {
		t.Fatalf("warnings %q, want one for the Put and one for the Get", warnings)
	}
	for _, w := range warnings {
		if !strings.Contains(w, ref) || !strings.Contains(w, "no space left") {
			t.Errorf("warning %q names neither the blob nor the failure", w)
		}
	}
}

// TestReadThroughChangesNothingLocal: replay's store reads the data
// folder's copies first and the cluster's store for the rest, and writes
// nothing into the folder it audits.
func TestReadThroughChangesNothingLocal(t *testing.T) {
	shared, local := newFileStore(t), newFileStore(t)
	onlyLocal, onlyShared := []byte("copied before"), []byte("never copied")
	localRef, err := local.Put(ctx(t), onlyLocal)
	if err != nil {
		t.Fatal(err)
	}
	sharedRef, err := shared.Put(ctx(t), onlyShared)
	if err != nil {
		t.Fatal(err)
	}
	r := cas.ReadThrough(local, shared)
	for ref, want := range map[string][]byte{localRef: onlyLocal, sharedRef: onlyShared} {
		if got, err := r.Get(ctx(t), ref); err != nil || !bytes.Equal(got, want) {
			t.Errorf("Get %s: %q, %v", ref, got, err)
		}
	}
	if has, _ := local.Has(ctx(t), sharedRef); has {
		t.Error("ReadThrough copied a blob into the local store")
	}
	if _, err := r.Get(ctx(t), "sha256:"+strings.Repeat("0", 64)); !errors.Is(err, cas.ErrNotFound) {
		t.Errorf("a blob neither holds: %v", err)
	}
}

// TestMirroredSaysCorruptWhenNoCopyIsGood: a corrupt local copy of a blob
// the shared store does not hold is reported corrupt, not absent.
func TestMirroredSaysCorruptWhenNoCopyIsGood(t *testing.T) {
	shared, local := newFileStore(t), newFileStore(t)
	ref, err := local.Put(ctx(t), []byte("only here, and rotten"))
	if err != nil {
		t.Fatal(err)
	}
	flipByte(t, blobPath(local.Dir(), ref))
	for name, s := range map[string]cas.Store{"Mirrored": cas.Mirrored(shared, local, nil), "ReadThrough": cas.ReadThrough(local, shared)} {
		if _, err := s.Get(ctx(t), ref); !errors.Is(err, cas.ErrCorrupt) {
			t.Errorf("%s: Get: %v, want ErrCorrupt", name, err)
		}
	}
}
