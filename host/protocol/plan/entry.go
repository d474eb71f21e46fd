package plan

import (
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/canswarm/swarmhost/abi/envelope"
)

// Entry is one op as a RECONCILE carries it: the op with its identity
// (envelope id, index) and what the fold order needs (the envelope's
// lamport and sender_pk). Count is the number of ops in that envelope, so
// that a replica holding part of an envelope's ops (a RECONCILE split
// across envelopes) knows it does not hold the whole envelope yet.
//
// Wire form (RFC 8785): {"count":3,"id":"sha256:...","index":0,
// "lamport":7,"op":{...},"sender_pk":"<64 hex>"}.
type Entry struct {
	ID      string // the UPDATE_PLAN envelope's id
	Lamport uint64 // its lamport
	Sender  string // its sender_pk
	Index   int    // the op's index in the envelope's ops
	Count   int    // how many ops the envelope carries
	Op      Op
}

var entryFields = []string{"count", "id", "index", "lamport", "op", "sender_pk"}

// normalize checks e and returns it with its op normalized. Field names in
// errors are relative to the entry.
func (e Entry) normalize() (Entry, error) {
	if err := checkEnvelope(e.ID, e.Lamport, e.Sender); err != nil {
		return Entry{}, err
	}
	if e.Count < 1 || e.Count > MaxOps {
		return Entry{}, fieldErr("count", fmt.Sprintf("%d is not in 1..%d", e.Count, MaxOps))
	}
	if e.Index < 0 || e.Index >= e.Count {
		return Entry{}, fieldErr("index", fmt.Sprintf("%d is not in 0..%d", e.Index, e.Count-1))
	}
	op, err := e.Op.Normalize()
	if err != nil {
		return Entry{}, under("op", err)
	}
	e.Op = op
	return e, nil
}

// checkEnvelope checks the envelope fields an op carries.
func checkEnvelope(id string, lamport uint64, sender string) error {
	if !envelope.IsRef(id) {
		return fieldErr("id", quote(id)+" is not a sha256 ref")
	}
	if lamport > envelope.MaxSafeInteger {
		return fieldErr("lamport", strconv.FormatUint(lamport, 10)+" is beyond 2^53")
	}
	if !envelope.IsPublicKey(sender) {
		return fieldErr("sender_pk", quote(sender)+" is not a public key")
	}
	return nil
}

// appendEntry appends the RFC 8785 form of a normalized entry.
func appendEntry(b []byte, e Entry) []byte {
	b = appendUint(append(b, `{"count":`...), uint64(e.Count))
	b = appendString(append(b, `,"id":`...), e.ID)
	b = appendUint(append(b, `,"index":`...), uint64(e.Index))
	b = appendUint(append(b, `,"lamport":`...), e.Lamport)
	b = appendOp(append(b, `,"op":`...), e.Op)
	b = appendString(append(b, `,"sender_pk":`...), e.Sender)
	return append(b, '}')
}

// MarshalJSON writes the entry's RFC 8785 wire form; it fails on an
// invalid entry. (json.Marshal escapes <, > and & in it: see Op.MarshalJSON.)
func (e Entry) MarshalJSON() ([]byte, error) {
	n, err := e.normalize()
	if err != nil {
		return nil, fmt.Errorf("plan: encode entry: %w", err)
	}
	return appendEntry(nil, n), nil
}

// UnmarshalJSON decodes one entry strictly, as ParseEntries does.
func (e *Entry) UnmarshalJSON(raw []byte) error {
	if err := checkJSON(raw, ""); err != nil { // when called directly
		return err
	}
	n, err := parseEntry(raw)
	if err != nil {
		return err
	}
	*e = n
	return nil
}

// EncodeEntries writes entries as the RFC 8785 array a RECONCILE's "ops"
// holds. It fails on an invalid entry, naming its index.
func EncodeEntries(entries []Entry) ([]byte, error) {
	b := []byte{'['}
	for i, e := range entries {
		n, err := e.normalize()
		if err != nil {
			return nil, under("ops["+strconv.Itoa(i)+"]", err)
		}
		if i > 0 {
			b = append(b, ',')
		}
		b = appendEntry(b, n)
	}
	return append(b, ']'), nil
}

// ParseEntries decodes the "ops" array of a RECONCILE payload: entries in
// the wire form above, strictly (exact keys, right types, valid values).
// Errors are *FieldError naming the index and field, e.g.
// `ops[1].op.state: "doing" is not a plan state`. An empty array is valid.
func ParseEntries(raw []byte) ([]Entry, error) {
	elems, err := parseArray(raw, "ops")
	if err != nil {
		return nil, err
	}
	entries := make([]Entry, len(elems))
	for i, el := range elems {
		if entries[i], err = parseEntry(el); err != nil {
			return nil, under("ops["+strconv.Itoa(i)+"]", err)
		}
	}
	return entries, nil
}

func parseEntry(raw []byte) (Entry, error) {
	members, err := splitObject(raw, "")
	if err != nil {
		return Entry{}, err
	}
	got := make(map[string]json.RawMessage, len(members))
	for _, m := range members {
		known := false
		for _, f := range entryFields {
			known = known || f == m.key
		}
		if !known {
			return Entry{}, fieldErr("", "unknown field "+quote(m.key)+" for an entry")
		}
		got[m.key] = m.raw
	}
	var e Entry
	for _, f := range entryFields {
		v, ok := got[f]
		if !ok {
			return Entry{}, fieldErr(f, "missing")
		}
		var n uint64
		switch f {
		case "count":
			n, err = decodeUint(f, v, MaxOps)
			e.Count = int(n)
		case "index":
			n, err = decodeUint(f, v, MaxOps-1)
			e.Index = int(n)
		case "lamport":
			e.Lamport, err = decodeUint(f, v, envelope.MaxSafeInteger)
		case "id":
			e.ID, err = decodeString(f, v)
		case "sender_pk":
			e.Sender, err = decodeString(f, v)
		case "op":
			if e.Op, err = parseOp(v); err != nil {
				err = under("op", err)
			}
		}
		if err != nil {
			return Entry{}, err
		}
	}
	return e.normalize()
}
