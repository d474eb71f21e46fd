package cas

import (
	"context"
	"errors"
	"time"
)

// Retrying wraps a store whose operations can fail for a moment (a NATS
// object store while its clustered stream elects a leader): an operation
// that fails with anything but a contract error (ErrNotFound, ErrCorrupt,
// ErrBadRef, ErrTooLarge) is tried again, with backoff, for up to d or
// until ctx ends. A timeout of the store's own (a JetStream request's
// default 5 s, reported as context.DeadlineExceeded) is such a failure
// while ctx itself is still live.
func Retrying(s Store, d time.Duration) Store { return &retrying{s: s, d: d} }

type retrying struct {
	s Store
	d time.Duration
}

// Unavailable reports whether err is a store's failure to answer (a
// timeout, a lost connection, a stream electing a leader) rather than an
// answer: not nil, not a contract error, not the caller's own context
// ending.
func Unavailable(err error) bool {
	return !final(err) && !errors.Is(err, context.Canceled)
}

func final(err error) bool {
	return err == nil || errors.Is(err, ErrNotFound) || errors.Is(err, ErrCorrupt) ||
		errors.Is(err, ErrBadRef) || errors.Is(err, ErrTooLarge)
}

func retry[T any](ctx context.Context, d time.Duration, op func() (T, error)) (T, error) {
	deadline := time.Now().Add(d)
	for attempt := 0; ; attempt++ {
		v, err := op()
		if final(err) || ctx.Err() != nil || time.Now().After(deadline) {
			return v, err
		}
		select {
		case <-ctx.Done():
			return v, err
		case <-time.After(min(time.Duration(20<<min(attempt, 5))*time.Millisecond, 500*time.Millisecond)):
		}
	}
}

func (r *retrying) Put(ctx context.Context, data []byte) (string, error) {
	return retry(ctx, r.d, func() (string, error) { return r.s.Put(ctx, data) })
}

func (r *retrying) Get(ctx context.Context, ref string) ([]byte, error) {
	return retry(ctx, r.d, func() ([]byte, error) { return r.s.Get(ctx, ref) })
}

func (r *retrying) Has(ctx context.Context, ref string) (bool, error) {
	return retry(ctx, r.d, func() (bool, error) { return r.s.Has(ctx, ref) })
}
