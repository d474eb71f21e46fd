package audit

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strconv"
	"unicode/utf8"

	"github.com/gowebpki/jcs"

	"github.com/canswarm/swarmhost/abi/envelope"
)

// Kinds of record. Other inputs a host steps (timers, consensus answers)
// get kinds of their own as the host grows them.
const (
	KindEnvelope = "envelope"
)

// Verdicts.
const (
	Accepted = "accepted"
	Rejected = "rejected"
)

// Unthreaded is the thread of rejected text that names no usable thread.
const Unthreaded = "unthreaded"

// Record is one line of a thread's trail.
type Record struct {
	Seq             uint64          `json:"seq"`
	Prev            string          `json:"prev"`
	Kind            string          `json:"kind"`
	ReceivedLamport uint64          `json:"received_lamport"`
	Envelope        json.RawMessage `json:"envelope"`
	Verdict         string          `json:"verdict"`
	Reason          string          `json:"reason"`
}

// Entry is what a caller records; the trail adds seq and prev.
type Entry struct {
	Kind            string
	ReceivedLamport uint64
	// Body is the JSON value stored in the "envelope" field: an envelope's
	// wire form for kind envelope, the input's own object for other kinds.
	Body    json.RawMessage
	Verdict string
	Reason  string
}

// Accept is the entry for an envelope that was accepted.
func Accept(e *envelope.Envelope, receivedLamport uint64) Entry {
	return Entry{Kind: KindEnvelope, ReceivedLamport: receivedLamport, Body: e.Wire(), Verdict: Accepted}
}

// Reject is the entry for text that was refused with code, stored exactly
// as received.
func Reject(raw []byte, code envelope.Code, receivedLamport uint64) Entry {
	return Entry{Kind: KindEnvelope, ReceivedLamport: receivedLamport, Body: RawText(raw), Verdict: Rejected, Reason: string(code)}
}

// RawText encodes received bytes as a JSON string: the text itself when it
// is UTF-8, otherwise "base64:" and its standard base64.
func RawText(raw []byte) json.RawMessage {
	var s string
	if utf8.Valid(raw) {
		s = string(raw)
	} else {
		s = "base64:" + base64.StdEncoding.EncodeToString(raw)
	}
	b, _ := json.Marshal(s) // a Go string always marshals
	return b
}

// DecodeRawText is the inverse of RawText.
func DecodeRawText(body json.RawMessage) ([]byte, error) {
	var s string
	if err := json.Unmarshal(body, &s); err != nil {
		return nil, fmt.Errorf("rejected envelope text is not a JSON string: %w", err)
	}
	if b64, ok := cutPrefix(s, "base64:"); ok {
		return base64.StdEncoding.DecodeString(b64)
	}
	return []byte(s), nil
}

func cutPrefix(s, p string) (string, bool) {
	if len(s) >= len(p) && s[:len(p)] == p {
		return s[len(p):], true
	}
	return s, false
}

// encode returns the JCS bytes of a record (no newline).
func (r *Record) encode() ([]byte, error) {
	if line, ok := r.appendCanonical(make([]byte, 0, len(r.Envelope)+160)); ok {
		return line, nil
	}
	return r.encodeSlow()
}

// appendCanonical writes the line directly in its RFC 8785 form when that
// is plain: a body already canonical (an envelope's wire form, a record
// the host encoded), strings of valid UTF-8, integers JCS writes as
// decimals. Otherwise it declines and encodeSlow decides (the two agree:
// TestRecordEncodingAgreesWithJCS).
func (r *Record) appendCanonical(b []byte) ([]byte, bool) {
	if n, ok := envelope.ScanCanonicalValue(r.Envelope); !ok || n != len(r.Envelope) ||
		r.Seq > envelope.MaxSafeInteger || r.ReceivedLamport > envelope.MaxSafeInteger ||
		!utf8.ValidString(r.Kind) || !utf8.ValidString(r.Prev) || !utf8.ValidString(r.Reason) || !utf8.ValidString(r.Verdict) {
		return nil, false
	}
	b = append(b, `{"envelope":`...)
	b = append(b, r.Envelope...)
	b = append(b, `,"kind":`...)
	b = envelope.AppendJCSString(b, r.Kind)
	b = append(b, `,"prev":`...)
	b = envelope.AppendJCSString(b, r.Prev)
	b = append(b, `,"reason":`...)
	b = envelope.AppendJCSString(b, r.Reason)
	b = append(b, `,"received_lamport":`...)
	b = strconv.AppendUint(b, r.ReceivedLamport, 10)
	b = append(b, `,"seq":`...)
	b = strconv.AppendUint(b, r.Seq, 10)
	b = append(b, `,"verdict":`...)
	b = envelope.AppendJCSString(b, r.Verdict)
	return append(b, '}'), true
}

// encodeSlow is the line as JCS of encoding/json's encoding of the record.
func (r *Record) encodeSlow() ([]byte, error) {
	text, err := json.Marshal(r)
	if err != nil {
		return nil, fmt.Errorf("encode audit record: %w", err)
	}
	canon, err := jcs.Transform(text)
	if err != nil {
		return nil, fmt.Errorf("encode audit record: %w", err)
	}
	return canon, nil
}

// LineHash is the hash a line's successor names as prev.
func LineHash(line []byte) string { return envelope.HashRef(line) }

// ThreadOf names the trail thread for an envelope, or for rejected text that
// decoded far enough to name one.
func ThreadOf(e *envelope.Envelope) string {
	if e == nil {
		return Unthreaded
	}
	if t := e.Thread(); envelope.IsRef(t) {
		return t
	}
	return Unthreaded
}

// ThreadOfRaw finds the thread of received text, accepted or not.
func ThreadOfRaw(raw []byte) string {
	e, err := envelope.Decode(raw)
	if err != nil {
		return Unthreaded
	}
	return ThreadOf(e)
}
