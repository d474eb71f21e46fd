package cas

import (
	"context"
	"errors"
	"fmt"
)

// Mirrored is a cluster host's store: shared is the store every host of the
// cluster reads and writes (the NATS object store), local a store of this
// host's own (DATA/cas) that keeps a copy of every blob this host put or
// read. A host's trail then replays from its data folder alone: every
// token, capsule, module, input and artifact its trail rests on is in
// DATA/cas, whether or not the cluster is still there.
//
//   - Put writes to shared (the write the other hosts need; its error is
//     Put's), then to local.
//   - Get reads local first and, for a blob local lacks or holds corrupt,
//     shared; a blob read from shared is copied to local (repairing a
//     corrupt copy) before Get returns it.
//   - Has asks shared: a blob is stored for the cluster when every host can
//     read it, not when this host alone holds a copy (a `cas put` into
//     DATA/cas while the host was stopped).
//
// A failure to write the local copy does not fail Put or Get (the blob is in
// the shared store, and the caller has its bytes): it is told to warn,
// which names the blob and what failed, since the host's trail may then need
// the shared store to replay.
func Mirrored(shared Store, local Store, warn func(string)) Store {
	if warn == nil {
		warn = func(string) {}
	}
	return &mirrored{shared: shared, local: local, warn: warn}
}

// ReadThrough reads local first and shared for what local lacks or holds
// corrupt, copying nothing (a replay reads a data folder it must not
// change); Has is true if either holds the blob; Put writes to shared.
func ReadThrough(local, shared Store) Store {
	return &mirrored{shared: shared, local: local, readOnly: true}
}

type mirrored struct {
	shared, local Store
	warn          func(string)
	readOnly      bool // ReadThrough: no local copies
}

func (m *mirrored) Put(ctx context.Context, data []byte) (string, error) {
	ref, err := m.shared.Put(ctx, data)
	if err != nil {
		return "", err
	}
	m.copyLocal(ctx, ref, data)
	return ref, nil
}

func (m *mirrored) Get(ctx context.Context, ref string) ([]byte, error) {
	data, err := m.local.Get(ctx, ref)
	switch {
	case err == nil:
		return data, nil
	case errors.Is(err, ErrBadRef), errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return nil, err
	}
	data, serr := m.shared.Get(ctx, ref)
	if serr != nil {
		if errors.Is(err, ErrCorrupt) && errors.Is(serr, ErrNotFound) {
			return nil, err // the one copy there is, corrupt
		}
		return nil, serr
	}
	m.copyLocal(ctx, ref, data)
	return data, nil
}

func (m *mirrored) Has(ctx context.Context, ref string) (bool, error) {
	if !m.readOnly {
		return m.shared.Has(ctx, ref)
	}
	has, err := m.local.Has(ctx, ref)
	if err == nil && has {
		return true, nil
	}
	if errors.Is(err, ErrBadRef) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false, err
	}
	return m.shared.Has(ctx, ref)
}

// copyLocal keeps the host's copy of a blob it put or read; a failure is
// warned of, not returned.
func (m *mirrored) copyLocal(ctx context.Context, ref string, data []byte) {
	if m.readOnly {
		return
	}
	if ctx.Err() != nil {
		// The caller gave up; the blob is copied the next time it is read.
		return
	}
	if _, err := m.local.Put(ctx, data); err != nil {
		m.warn(fmt.Sprintf("cas: no local copy of %s (this host's trail may need the cluster's store to replay): %v", ref, err))
	}
}
