package cas

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/canswarm/swarmhost/abi/envelope"
)

// ObjectStore keeps blobs in a NATS JetStream object store bucket, so that
// the hosts of a cluster share one CAS. The object name is the ref's 64 hex
// digits (the "sha256:" prefix adds nothing and object names end up in
// subjects).
//
// The object store keeps its own SHA-256 digest of each object and checks it
// on read; that catches a damaged chunk but not an object replaced with other
// bytes under the same name, whose digest is rewritten with it. So Get checks
// the bytes against the ref as well, which is the check the contract needs.
//
// When ctx has no deadline the NATS client bounds each call by its default
// timeout (5 seconds for a whole Get); give big blobs on slow links a
// context with a deadline.
type ObjectStore struct {
	obs    jetstream.ObjectStore
	bucket string
}

var _ Store = (*ObjectStore)(nil)

// NewObjectStore opens the object store bucket, creating it (file storage,
// one replica) if it does not exist. An existing bucket is used as it is:
// its replication and limits belong to whoever operates the cluster.
func NewObjectStore(ctx context.Context, js jetstream.JetStream, bucket string) (*ObjectStore, error) {
	return NewObjectStoreReplicas(ctx, js, bucket, 1)
}

// NewObjectStoreReplicas is NewObjectStore creating a missing bucket with
// the given number of replicas (a clustered JetStream).
func NewObjectStoreReplicas(ctx context.Context, js jetstream.JetStream, bucket string, replicas int) (*ObjectStore, error) {
	if js == nil {
		return nil, errors.New("cas: object store: nil JetStream")
	}
	obs, err := js.ObjectStore(ctx, bucket)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		obs, err = js.CreateObjectStore(ctx, jetstream.ObjectStoreConfig{
			Bucket:      bucket,
			Description: "swarmhost content-addressed store",
			Storage:     jetstream.FileStorage,
			Replicas:    max(replicas, 1),
		})
		if errors.Is(err, jetstream.ErrBucketExists) {
			obs, err = js.ObjectStore(ctx, bucket) // another host created it first
		}
	}
	if err != nil {
		return nil, fmt.Errorf("cas: object store bucket %q: %w", bucket, err)
	}
	return &ObjectStore{obs: obs, bucket: bucket}, nil
}

// Bucket returns the name of the object store bucket.
func (s *ObjectStore) Bucket() string { return s.bucket }

// Put stores data under its ref. When the bucket already holds an object of
// that name whose recorded size and digest match data, Put does nothing;
// otherwise (absent, or replaced by other bytes) it writes the object.
//
// The shortcut trusts the recorded size and digest rather than reading the
// chunks back: damaged chunks under an intact record are caught by Get (and
// by JetStream's own per-message checksums) but not repaired by Put, which
// would otherwise have to download every blob it is asked to store.
func (s *ObjectStore) Put(ctx context.Context, data []byte) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", fmt.Errorf("cas: put: %w", err)
	}
	if len(data) > MaxBlobBytes {
		return "", fmt.Errorf("cas: put: %w", tooLarge("blob", int64(len(data))))
	}
	ref := envelope.HashRef(data)
	name := ref[len(envelope.RefPrefix):]
	info, err := s.obs.GetInfo(ctx, name)
	switch {
	case err == nil && info.Size == uint64(len(data)) && sameDigest(info.Digest, data):
		return ref, nil
	case err == nil, errors.Is(err, jetstream.ErrObjectNotFound):
		// absent, or holding other bytes: write
	default:
		return "", fmt.Errorf("cas: put %s: bucket %q: %w", ref, s.bucket, err)
	}
	if _, err := s.obs.PutBytes(ctx, name, data); err != nil {
		return "", fmt.Errorf("cas: put %s: bucket %q: %w", ref, s.bucket, err)
	}
	return ref, nil
}

// Get returns the object's bytes after checking that they hash to ref.
func (s *ObjectStore) Get(ctx context.Context, ref string) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("cas: get: %w", err)
	}
	name, err := digest(ref)
	if err != nil {
		return nil, err
	}
	info, err := s.obs.GetInfo(ctx, name)
	if err != nil {
		return nil, s.readErr(ref, err)
	}
	if info.Size > MaxBlobBytes {
		return nil, fmt.Errorf("cas: get: %w: %s: %w", ErrCorrupt, ref, tooLarge("stored object", int64(info.Size)))
	}
	data, err := s.obs.GetBytes(ctx, name)
	if err != nil {
		return nil, s.readErr(ref, err)
	}
	if err := verify(ref, data); err != nil {
		return nil, fmt.Errorf("cas: get: %w", err)
	}
	return data, nil
}

// Has reports whether the bucket holds an object for ref. It does not read
// the object.
func (s *ObjectStore) Has(ctx context.Context, ref string) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, fmt.Errorf("cas: has: %w", err)
	}
	name, err := digest(ref)
	if err != nil {
		return false, err
	}
	switch _, err := s.obs.GetInfo(ctx, name); {
	case err == nil:
		return true, nil
	case errors.Is(err, jetstream.ErrObjectNotFound):
		return false, nil
	default:
		return false, fmt.Errorf("cas: has %s: bucket %q: %w", ref, s.bucket, err)
	}
}

// readErr maps the object store's errors onto the contract's.
func (s *ObjectStore) readErr(ref string, err error) error {
	switch {
	case errors.Is(err, jetstream.ErrObjectNotFound):
		return fmt.Errorf("cas: get: %w: %s", ErrNotFound, ref)
	case errors.Is(err, jetstream.ErrDigestMismatch):
		return fmt.Errorf("cas: get: %w: %s: %w", ErrCorrupt, ref, err)
	default:
		return fmt.Errorf("cas: get %s: bucket %q: %w", ref, s.bucket, err)
	}
}

// sameDigest reports whether an object store digest ("SHA-256=" + base64)
// is the SHA-256 of data.
func sameDigest(recorded string, data []byte) bool {
	got, err := jetstream.DecodeObjectDigest(recorded)
	if err != nil {
		return false
	}
	sum := sha256.Sum256(data)
	return bytes.Equal(got, sum[:])
}
