package bus

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/canswarm/swarmhost/abi/envelope"
)

// Consumer reads envelopes from a durable JetStream consumer: the server
// remembers, on disk, which messages were acknowledged, so a consumer opened
// again under the same name (by a restarted process, on a restarted server)
// resumes after the last acknowledged message.
//
// Delivery is at least once. Next pulls one message at a time and nothing
// is prefetched, so the unacknowledged messages are the ones the caller
// holds (a caller that calls Next again before acknowledging, as the node
// does to batch its work, holds several); if the caller dies before Ack,
// the server delivers them again after AckWait, or at once after a Nak.
// Receivers de-duplicate by envelope id, as the protocol requires.
type Consumer struct {
	b       *Bus
	cons    jetstream.Consumer
	durable string
	filter  Filter

	// done is canceled by Close; it aborts a Next in progress.
	done   context.Context
	cancel context.CancelFunc

	trusted     func(data []byte) *envelope.Envelope // see Trust
	trustedHits atomic.Int64

	progress progress // see Taken and WaitTaken
}

// Trust makes the consumer take, for a message whose bytes trusted
// recognises, the envelope it returns rather than verify those bytes
// again: a node's own envelopes, which it signed as it published them,
// come back to it from the stream. trusted must answer only for bytes
// exactly those of the envelope it returns (the subject is still
// checked). Call it before Next.
func (c *Consumer) Trust(trusted func(data []byte) *envelope.Envelope) { c.trusted = trusted }

// TrustedDeliveries counts the deliveries Trust spared a verification.
func (c *Consumer) TrustedDeliveries() int64 { return c.trustedHits.Load() }

// Delivery is one message from the stream; Data holds its bytes as stored.
// When they verify as an envelope, Envelope is set and Err is nil; otherwise
// Err says why (an *envelope.RejectError: use envelope.CodeOf) and Envelope
// is whatever could be decoded (nil when malformed). Nothing that reaches
// the stream is dropped: a bad message is delivered like a good one, for the
// caller to record and acknowledge.
type Delivery struct {
	Subject  string
	Data     []byte
	Envelope *envelope.Envelope
	Err      error
	// Seq is the message's sequence in the stream.
	Seq uint64
	// NumDelivered counts deliveries of this message to this consumer,
	// 1 the first time, and again 1 the first time after Subscribe opened
	// the durable again (it resets what an earlier reader left pending).
	NumDelivered uint64

	msg jetstream.Msg
}

// ErrWrongSubject is part of Delivery.Err when an envelope verifies but was
// published on a subject that does not match its thread and verb: a filter
// on the subject would have routed it wrongly, so it is refused (with code
// malformed) rather than trusted.
var ErrWrongSubject = errors.New("bus: envelope on the wrong subject")

var durableRe = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// Subscribe opens, creating if needed, the durable consumer named durable
// (letters, digits, '-' and '_', at most 64) that delivers the envelopes f
// selects, oldest first. Opening an existing durable with a different filter
// fails: a name means one position in one sequence of messages. A durable
// has one reader: opening it again delivers at once what an earlier reader
// left unacknowledged (a killed process), rather than after the ack wait.
func (b *Bus) Subscribe(ctx context.Context, f Filter, durable string) (*Consumer, error) {
	if !durableRe.MatchString(durable) {
		return nil, fmt.Errorf("bus: subscribe: durable name %q: want 1 to 64 letters, digits, '-' or '_'", shorten(durable))
	}
	subject, err := f.Subject()
	if err != nil {
		return nil, err
	}
	if b.isClosed() {
		return nil, ErrClosed
	}
	cons, err := b.js.CreateConsumer(ctx, StreamName, jetstream.ConsumerConfig{
		Durable:       durable,
		Description:   "swarmhost " + subject,
		DeliverPolicy: jetstream.DeliverAllPolicy,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       b.cfg.AckWait,
		MaxDeliver:    -1, // never give up on an envelope
		FilterSubject: subject,
		ReplayPolicy:  jetstream.ReplayInstantPolicy,
		// As many replicas as the stream: a consumer whose only replica
		// was on a server that died would deliver nothing more.
		Replicas: b.Replicas(),
	})
	if errors.Is(err, jetstream.ErrConsumerExists) {
		return nil, fmt.Errorf("bus: subscribe %s to %s: durable %s exists with another filter or settings (delete it to change them): %w", durable, subject, durable, err)
	}
	if err != nil {
		return nil, fmt.Errorf("bus: subscribe %s to %s: %w", durable, subject, err)
	}
	// Messages a previous reader took and never acknowledged (it was
	// killed) would otherwise come back only after their ack wait: the
	// consumer goes back to its ack floor and delivers them now. Messages
	// acknowledged out of order above the floor come again too; receivers
	// de-duplicate.
	if info := cons.CachedInfo(); info != nil && info.NumAckPending > 0 {
		if _, err := b.js.ResetConsumer(ctx, StreamName, durable); err != nil {
			return nil, fmt.Errorf("bus: subscribe %s: deliver again the %d messages a previous reader left unacknowledged: %w",
				durable, info.NumAckPending, err)
		}
	}
	done, cancel := context.WithCancel(context.Background())
	c := &Consumer{b: b, cons: cons, durable: durable, filter: f, done: done, cancel: cancel}
	// What was acknowledged, an earlier reader took in.
	floor, err := c.AckFloor(ctx)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("bus: subscribe: %w", err)
	}
	c.progress.start(floor)
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		cancel()
		return nil, ErrClosed
	}
	b.consumers[c] = struct{}{}
	return c, nil
}

// DeleteConsumer removes a durable consumer and its position from the
// server. Envelopes stay in the stream.
func (b *Bus) DeleteConsumer(ctx context.Context, durable string) error {
	if err := b.js.DeleteConsumer(ctx, StreamName, durable); err != nil {
		return fmt.Errorf("bus: delete consumer %s: %w", durable, err)
	}
	return nil
}

// Durable returns the consumer's name.
func (c *Consumer) Durable() string { return c.durable }

// Filter returns what the consumer selects.
func (c *Consumer) Filter() Filter { return c.filter }

// Next waits for the next message and returns it; the caller must Ack it
// (or Nak it) when done. It returns ctx's error when ctx ends first, and
// ErrClosed once the consumer or its bus is closed.
func (c *Consumer) Next(ctx context.Context) (*Delivery, error) {
	for {
		if c.done.Err() != nil {
			return nil, ErrClosed
		}
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("bus: next on %s: %w", c.durable, err)
		}
		msg, err := c.fetch(ctx)
		switch {
		case err == nil:
			d := c.newDelivery(msg)
			c.progress.handed(d.Seq)
			return d, nil
		case c.done.Err() != nil:
			return nil, ErrClosed
		case ctx.Err() != nil:
			return nil, fmt.Errorf("bus: next on %s: %w", c.durable, ctx.Err())
		case errors.Is(err, nats.ErrTimeout):
			// The pull request expired with nothing to deliver: ask again.
		default:
			return nil, fmt.Errorf("bus: next on %s: %w", c.durable, err)
		}
	}
}

// fetch pulls one message, abandoning the pull when ctx ends or the
// consumer closes. An abandoned pull cannot swallow a message: the server
// delivers only to pull requests whose inbox still has a subscriber.
//
// The context handed to the client has no deadline, only cancellation:
// given a deadline, the client shortens the pull request to 90% of what is
// left and refuses outright once the clock has passed it, even before the
// context reports it (a race that surfaced as "invalid jetstream option").
// Without one it pulls with its default expiry and idle heartbeats, and we
// cancel it at ctx's end ourselves.
func (c *Consumer) fetch(ctx context.Context) (jetstream.Msg, error) {
	fctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stopCtx := context.AfterFunc(ctx, cancel)
	defer stopCtx()
	stopDone := context.AfterFunc(c.done, cancel)
	defer stopDone()
	return c.cons.Next(jetstream.FetchContext(fctx))
}

// Pending returns how many messages the consumer has yet to deliver.
func (c *Consumer) Pending(ctx context.Context) (uint64, error) {
	info, err := c.cons.Info(ctx)
	if err != nil {
		return 0, fmt.Errorf("bus: consumer %s info: %w", c.durable, err)
	}
	return info.NumPending, nil
}

// AckFloor is the stream sequence up to which every message was
// acknowledged by this durable consumer (0 before the first): a reader
// that acknowledges only what it has taken in has taken in all of those.
func (c *Consumer) AckFloor(ctx context.Context) (uint64, error) {
	info, err := c.cons.Info(ctx)
	if err != nil {
		return 0, fmt.Errorf("bus: consumer %s info: %w", c.durable, err)
	}
	return info.AckFloor.Stream, nil
}

// Close stops the consumer: a Next in progress returns ErrClosed. The
// durable position stays on the server for the next Subscribe.
func (c *Consumer) Close() error {
	c.b.mu.Lock()
	delete(c.b.consumers, c)
	c.b.mu.Unlock()
	c.close()
	return nil
}

func (c *Consumer) close() { c.cancel() }

func (c *Consumer) newDelivery(msg jetstream.Msg) *Delivery {
	d := &Delivery{Subject: msg.Subject(), Data: msg.Data(), msg: msg}
	if md, err := msg.Metadata(); err == nil {
		d.Seq, d.NumDelivered = md.Sequence.Stream, md.NumDelivered
	}
	if c.trusted != nil {
		if d.Envelope = c.trusted(d.Data); d.Envelope != nil {
			c.trustedHits.Add(1)
		}
	}
	if d.Envelope == nil {
		d.Envelope, d.Err = envelope.Verify(d.Data)
	}
	if d.Err == nil {
		if want, err := SubjectOf(d.Envelope); err != nil || want != d.Subject {
			d.Err = fmt.Errorf("%w: %w", ErrWrongSubject, envelope.Reject(envelope.CodeMalformed, "subject",
				"envelope %s (%s, thread %s) arrived on %s", d.Envelope.ID, d.Envelope.Verb, d.Envelope.Thread(), d.Subject))
		}
	}
	return d
}

// Ack tells the server the message is done with, and waits for the server
// to confirm, so that once Ack returns nil a restart will not deliver the
// message again.
func (d *Delivery) Ack(ctx context.Context) error {
	if err := d.msg.DoubleAck(ctx); err != nil {
		return fmt.Errorf("bus: ack seq %d: %w", d.Seq, err)
	}
	return nil
}

// Nak asks the server to deliver the message again now.
func (d *Delivery) Nak() error {
	if err := d.msg.Nak(); err != nil {
		return fmt.Errorf("bus: nak seq %d: %w", d.Seq, err)
	}
	return nil
}

// NakAfter asks the server to deliver the message again after delay (an
// envelope the receiver cannot judge yet).
func (d *Delivery) NakAfter(delay time.Duration) error {
	if err := d.msg.NakWithDelay(delay); err != nil {
		return fmt.Errorf("bus: nak seq %d: %w", d.Seq, err)
	}
	return nil
}
