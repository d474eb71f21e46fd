package cas_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/canswarm/swarmhost/host/cas"
)

// flaky fails its first n operations with a transient error, then passes
// them to a real file store.
type flaky struct {
	cas.Store
	n, calls int
}

var errTransient = errors.New("nats: no responders available for request")

func (f *flaky) Put(ctx context.Context, b []byte) (string, error) {
	if f.calls++; f.calls <= f.n {
		return "", errTransient
	}
	return f.Store.Put(ctx, b)
}

func (f *flaky) Get(ctx context.Context, ref string) ([]byte, error) {
	if f.calls++; f.calls <= f.n {
		return nil, errTransient
	}
	return f.Store.Get(ctx, ref)
}

func TestRetryingRidesOutTransientErrorsOnly(t *testing.T) {
	fs, err := cas.NewFileStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	f := &flaky{Store: fs, n: 3}
	s := cas.Retrying(f, 10*time.Second)
	ref, err := s.Put(context.Background(), []byte("x"))
	if err != nil || f.calls != 4 {
		t.Fatalf("put: %v after %d calls, want success on the 4th", err, f.calls)
	}
	f.calls, f.n = 0, 0
	if _, err := s.Get(context.Background(), "sha256:"+ref[7:15]+ref[15:]); err != nil {
		t.Fatal(err)
	}
	f.calls = 0
	missing := "sha256:0000000000000000000000000000000000000000000000000000000000000000"
	if _, err := s.Get(context.Background(), missing); !errors.Is(err, cas.ErrNotFound) || f.calls != 1 {
		t.Fatalf("a missing blob: %v after %d calls, want ErrNotFound at once", err, f.calls)
	}
	f.calls, f.n = 0, 1000
	short := cas.Retrying(f, 100*time.Millisecond)
	if _, err := short.Put(context.Background(), []byte("y")); !errors.Is(err, errTransient) {
		t.Fatalf("want the transient error once the time is up, got %v", err)
	}
}

// A timeout of the store's own (the caller's context still live) is
// transient too: a JetStream request times out after 5 s while a stream
// elects its leader, and reports context.DeadlineExceeded.
func TestRetryingRidesOutTheStoresOwnTimeouts(t *testing.T) {
	fs, err := cas.NewFileStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ref, err := fs.Put(context.Background(), []byte("x"))
	if err != nil {
		t.Fatal(err)
	}
	s := cas.Retrying(&timingOut{Store: fs, n: 2}, 10*time.Second)
	if b, err := s.Get(context.Background(), ref); err != nil || string(b) != "x" {
		t.Fatalf("get: %q, %v; want the blob once the store's timeouts pass", b, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := cas.Retrying(&timingOut{Store: fs, n: 1000}, 10*time.Second).Get(ctx, ref); err == nil {
		t.Fatal("a cancelled caller got an answer")
	}
}

type timingOut struct {
	cas.Store
	n, calls int
}

func (s *timingOut) Get(ctx context.Context, ref string) ([]byte, error) {
	if s.calls++; s.calls <= s.n {
		return nil, fmt.Errorf("cas: get %s: %w", ref, context.DeadlineExceeded)
	}
	return s.Store.Get(ctx, ref)
}
