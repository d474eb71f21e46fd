package bus

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/canswarm/swarmhost/abi/envelope"
)

// PubAck is the stream's answer to a publish.
type PubAck struct {
	// Seq is the stream sequence of the message: for a duplicate, the
	// sequence of the copy already stored.
	Seq uint64
	// Duplicate is true when the stream already held a message with the
	// same id inside the dedup window and stored nothing new. A duplicate is
	// not an error (PROTOCOL.md section 2): it is acknowledged again.
	Duplicate bool
}

// Publish stores e's wire form on its subject (SubjectOf) with MsgID(e) as
// the message id, and waits for the stream to acknowledge it, which, with
// sync always, means it is on disk. Publishing the same envelope again
// within the dedup window stores nothing and returns Duplicate.
//
// Publish does not verify the signature: receivers do, on every delivery.
// It only refuses what it cannot route (no id, unknown verb, thread that is
// not a ref).
func (b *Bus) Publish(ctx context.Context, e *envelope.Envelope) (PubAck, error) {
	if e == nil {
		return PubAck{}, errors.New("bus: publish: nil envelope")
	}
	if !envelope.IsRef(e.ID) {
		return PubAck{}, fmt.Errorf("bus: publish: envelope id %q is not a ref", shorten(e.ID))
	}
	subject, err := SubjectOf(e)
	if err != nil {
		return PubAck{}, fmt.Errorf("bus: publish %s: %w", e.ID, err)
	}
	ack, err := b.publish(ctx, subject, e.Wire(), MsgID(e))
	if err != nil {
		return PubAck{}, fmt.Errorf("bus: publish %s %s: %w", e.Verb, e.ID, err)
	}
	return ack, nil
}

// MsgID is the message id an envelope is published with (the Nats-Msg-Id
// header the stream de-duplicates by): the ref of its wire text, signature
// included. The server trusts whatever id a publisher gives; were it the
// envelope's id, anyone who knew an id before its envelope was published
// could publish other bytes under it (its signature zeroed, say) and the
// stream would drop the real envelope as a duplicate. Only the envelope's
// own bytes carry this id; the same envelope published again carries the
// same one (Ed25519 signatures are deterministic).
func MsgID(e *envelope.Envelope) string { return envelope.HashRef(e.Wire()) }

// PublishRaw stores arbitrary bytes on subject, a concrete subject of the
// stream (Subject builds one). msgID, when not empty, is the de-duplication
// key. It exists to feed receivers what a faulty or hostile peer would send:
// the bytes are not checked, and every delivery of them carries the reason
// they fail verification.
func (b *Bus) PublishRaw(ctx context.Context, subject string, data []byte, msgID string) (PubAck, error) {
	if err := checkRawSubject(subject); err != nil {
		return PubAck{}, err
	}
	ack, err := b.publish(ctx, subject, data, msgID)
	if err != nil {
		return PubAck{}, fmt.Errorf("bus: publish raw on %s: %w", subject, err)
	}
	return ack, nil
}

func (b *Bus) publish(ctx context.Context, subject string, data []byte, msgID string) (PubAck, error) {
	if b.isClosed() {
		return PubAck{}, ErrClosed
	}
	// WithExpectStream makes the server refuse the message unless our stream
	// is the one that stores it: another stream overlapping our subjects must
	// not silently swallow envelopes.
	opts := []jetstream.PublishOpt{jetstream.WithExpectStream(StreamName)}
	if msgID != "" {
		opts = append(opts, jetstream.WithMsgID(msgID))
	}
	// A clustered stream has no leader for a moment after a server dies:
	// retry (the message id makes a retry that did land a duplicate) for
	// up to PublishRetryFor unless ctx ends first.
	deadline := time.Now().Add(PublishRetryFor)
	for attempt := 0; ; attempt++ {
		ack, err := b.js.PublishMsg(ctx, &nats.Msg{Subject: subject, Data: data}, opts...)
		if err == nil {
			return PubAck{Seq: ack.Sequence, Duplicate: ack.Duplicate}, nil
		}
		if msgID == "" || !retryableJS(err) && !errors.Is(err, jetstream.ErrNoStreamResponse) ||
			ctx.Err() != nil || time.Now().After(deadline) || b.isClosed() {
			return PubAck{}, err
		}
		select {
		case <-ctx.Done():
			return PubAck{}, ctx.Err()
		case <-time.After(min(time.Duration(20<<min(attempt, 5))*time.Millisecond, 500*time.Millisecond)):
		}
	}
}

// PublishRetryFor bounds how long a publish is retried while a clustered
// stream elects a new leader.
const PublishRetryFor = 30 * time.Second
