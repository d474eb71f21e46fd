package route

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strconv"

	"github.com/canswarm/swarmhost/abi/envelope"
)

// MaxInt is the largest integer a price, eta_ms or epoch may have (2^53,
// PROTOCOL.md section 1).
const MaxInt = 1 << 53

// ParseBid decodes a PROPOSE payload {"epoch":E,"bid":{"price":P,"eta_ms":T}}
// strictly (see the package documentation). A refusal is an
// *envelope.RejectError with code malformed naming the field.
func ParseBid(payload []byte) (epoch, price, eta uint64, err error) {
	d := json.NewDecoder(bytes.NewReader(payload))
	d.UseNumber()
	var haveBid bool
	err = readObject(d, "payload", func(key, field string) error {
		var err error
		switch key {
		case "epoch":
			epoch, err = readInt(d, field, 1)
		case "bid":
			haveBid = true
			var hp, he bool
			err = readObject(d, field, func(key, field string) error {
				var err error
				switch key {
				case "price":
					hp = true
					price, err = readInt(d, field, 0)
				case "eta_ms":
					he = true
					eta, err = readInt(d, field, 0)
				default:
					return envelope.Reject(envelope.CodeMalformed, field, "unknown field")
				}
				return err
			})
			if err == nil && !hp {
				err = envelope.Reject(envelope.CodeMalformed, field+".price", "missing")
			}
			if err == nil && !he {
				err = envelope.Reject(envelope.CodeMalformed, field+".eta_ms", "missing")
			}
		default:
			return envelope.Reject(envelope.CodeMalformed, field, "unknown field")
		}
		return err
	})
	switch {
	case err != nil:
	case epoch == 0:
		err = envelope.Reject(envelope.CodeMalformed, "payload.epoch", "missing")
	case !haveBid:
		err = envelope.Reject(envelope.CodeMalformed, "payload.bid", "missing")
	default:
		if _, terr := d.Token(); terr != io.EOF {
			err = envelope.Reject(envelope.CodeMalformed, "payload", "data after the object")
		}
	}
	if err != nil {
		return 0, 0, 0, err
	}
	return epoch, price, eta, nil
}

// readObject reads a JSON object at field, calling member for each key with
// the decoder positioned at its value. Repeated keys are refused.
func readObject(d *json.Decoder, field string, member func(key, field string) error) error {
	if t, err := d.Token(); err != nil || t != json.Delim('{') {
		return notA(field, "an object", err)
	}
	seen := map[string]bool{}
	for d.More() {
		t, err := d.Token()
		if err != nil {
			return notA(field, "an object", err)
		}
		key, _ := t.(string)
		sub := field + "." + key
		if seen[key] {
			return envelope.Reject(envelope.CodeMalformed, sub, "repeated key")
		}
		seen[key] = true
		if err := member(key, sub); err != nil {
			return err
		}
	}
	if _, err := d.Token(); err != nil { // the closing brace
		return notA(field, "an object", err)
	}
	return nil
}

// readInt reads a plain integer literal in [lo, MaxInt].
func readInt(d *json.Decoder, field string, lo uint64) (uint64, error) {
	t, err := d.Token()
	n, ok := t.(json.Number)
	if err != nil || !ok {
		return 0, notA(field, "an integer", err)
	}
	s := string(n)
	if s[0] == '-' {
		return 0, envelope.Reject(envelope.CodeMalformed, field, "negative: %s", s)
	}
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return 0, envelope.Reject(envelope.CodeMalformed, field, "not a plain integer: %s", s)
		}
	}
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil || v > MaxInt {
		return 0, envelope.Reject(envelope.CodeMalformed, field, "above 2^53: %s", s)
	}
	if v < lo {
		return 0, envelope.Reject(envelope.CodeMalformed, field, "below %d: %s", lo, s)
	}
	return v, nil
}

func notA(field, what string, err error) error {
	var se *json.SyntaxError
	switch {
	case errors.As(err, &se):
		return envelope.Reject(envelope.CodeMalformed, field, "invalid JSON at offset %d: %v", se.Offset, err)
	case err == io.EOF || errors.Is(err, io.ErrUnexpectedEOF):
		return envelope.Reject(envelope.CodeMalformed, field, "unexpected end of JSON")
	case err != nil:
		return envelope.Reject(envelope.CodeMalformed, field, "invalid JSON: %v", err)
	}
	return envelope.Reject(envelope.CodeMalformed, field, "not %s", what)
}
