package cas

import (
	"context"
	"errors"
	"fmt"

	"github.com/canswarm/swarmhost/abi/envelope"
)

// Store is a content-addressed blob store. See the package documentation for
// the contract every implementation keeps.
type Store interface {
	// Put stores data and returns its ref, envelope.HashRef(data). It is
	// idempotent, and repairs a stored copy that has gone corrupt.
	Put(ctx context.Context, data []byte) (ref string, err error)
	// Get returns the bytes ref names, verified against ref on this read.
	Get(ctx context.Context, ref string) ([]byte, error)
	// Has reports whether a blob is stored under ref, without reading it.
	Has(ctx context.Context, ref string) (bool, error)
}

// MaxBlobBytes bounds one blob. Put refuses more and Get refuses to load
// more: a store must not be a way to make a host allocate without bound.
const MaxBlobBytes = 64 << 20

// Errors of the contract. Backends wrap them with %w and the ref at fault.
var (
	// ErrNotFound: nothing is stored under the ref.
	ErrNotFound = errors.New("cas: blob not found")
	// ErrCorrupt: the stored bytes no longer hash to their ref.
	ErrCorrupt = errors.New("cas: corrupt blob")
	// ErrBadRef: the ref is not "sha256:" + 64 lowercase hex digits.
	ErrBadRef = errors.New("cas: bad ref")
	// ErrTooLarge: the blob is over MaxBlobBytes.
	ErrTooLarge = errors.New("cas: blob too large")
)

// digest returns the 64 hex digits of a well-formed ref, or ErrBadRef.
func digest(ref string) (string, error) {
	if !envelope.IsRef(ref) {
		return "", fmt.Errorf("%w: %q is not sha256: and 64 lowercase hex digits", ErrBadRef, shorten(ref))
	}
	return ref[len(envelope.RefPrefix):], nil
}

// verify checks data against ref: the single place where a read is trusted.
func verify(ref string, data []byte) error {
	if got := envelope.HashRef(data); got != ref {
		return fmt.Errorf("%w: %s: stored bytes hash to %s", ErrCorrupt, ref, got)
	}
	return nil
}

func tooLarge(what string, n int64) error {
	return fmt.Errorf("%w: %s is %d bytes, limit %d", ErrTooLarge, what, n, MaxBlobBytes)
}

// shorten keeps error messages bounded when a caller passes a huge bad ref.
func shorten(s string) string {
	const max = 100
	if len(s) > max {
		return s[:max] + "..."
	}
	return s
}
