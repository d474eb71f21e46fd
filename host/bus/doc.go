// Package bus carries envelopes between hosts over NATS JetStream: by
// default an embedded nats-server in the node's data folder (DATA/nats), or
// an external server or cluster by URL.
//
// # Contract
//
//   - Every envelope goes to one stream, SWARM, on the subject
//     swarm.env.<thread>.<VERB>, where <thread> is the 64 hex digits of
//     e.Thread() (a NEED's own id; "none" for an envelope outside any NEED).
//     The stream uses file storage.
//   - Publish waits for the stream's acknowledgement. The embedded server
//     fsyncs every write before acknowledging it (sync_interval: always), so
//     an acknowledged envelope survives a crash or power loss of the host.
//     An external server must be configured the same way by its operator.
//   - The message id (the Nats-Msg-Id header) is the ref of the envelope's
//     wire text ([MsgID]): the stream stores an envelope once per dedup
//     window (24 hours by default) however often it is republished, and a
//     republish is acknowledged again with Duplicate set. The window is a
//     saving, not a guarantee: receivers still de-duplicate by envelope id
//     (PROTOCOL.md section 2). The server trusts the publisher's message
//     id; as it names the signed bytes, not the envelope id, no one can
//     pre-empt an envelope with other bytes under its id (until session 20
//     it was the envelope id, and a forged body published first made the
//     stream drop the real envelope).
//   - A Consumer is durable and pull based: it resumes after the last
//     acknowledged message across restarts of the process and of the
//     server, delivers at least once, and pulls one message at a time.
//   - Every delivery carries the raw bytes and the result of
//     envelope.Verify; an envelope that fails, or arrives on a subject that
//     does not match it, is delivered with the reason, never dropped.
//   - Acknowledgement is explicit and confirmed by the server (Ack waits for
//     the reply): the caller acknowledges after it has recorded the envelope
//     in the audit trail, so a crash between the two replays the envelope
//     rather than losing it.
//   - Close and Shutdown stop every goroutine the package started; Shutdown
//     of an embedded server returns once the server has stopped and its
//     store folder is free.
//
// # Why these choices
//
// The embedded server listens on 127.0.0.1 on a free port, so a single
// host opens no network port by accident, while the nats CLI can still be
// pointed at ClientURL; the host's own connection is in-process. The server
// is told not to handle signals (NoSigs) because the host owns the process.
// nats-server does not lock its store folder, so StartEmbedded takes an
// flock on DATA/nats/swarmhost.lock: two servers on one folder would
// corrupt each other's streams.
package bus
