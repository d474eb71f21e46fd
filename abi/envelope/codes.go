package envelope

import (
	"errors"
	"fmt"
)

// Code is a rejection reason of PROTOCOL.md section 2. The string values are
// normative: they appear on the wire, in the audit trail and in CLI output.
type Code string

// The rejection codes, in the order in which the checks run.
const (
	CodeMalformed           Code = "malformed"
	CodeBadVersion          Code = "bad_version"
	CodeUnknownVerb         Code = "unknown_verb"
	CodeTooLarge            Code = "too_large"
	CodePayloadHashMismatch Code = "payload_hash_mismatch"
	CodeIDMismatch          Code = "id_mismatch"
	CodeBadSignature        Code = "bad_signature"
	// The codes below need state the envelope alone does not carry.
	CodeBadCapability Code = "bad_capability"
	CodeUnauthorized  Code = "unauthorized"
	CodeStaleLamport  Code = "stale_lamport"
	CodeWrongState    Code = "wrong_state"
	CodeStaleFence    Code = "stale_fence"
)

// Codes lists every rejection code in check order.
var Codes = []Code{
	CodeMalformed, CodeBadVersion, CodeUnknownVerb, CodeTooLarge,
	CodePayloadHashMismatch, CodeIDMismatch, CodeBadSignature,
	CodeBadCapability, CodeUnauthorized, CodeStaleLamport, CodeWrongState, CodeStaleFence,
}

// Valid reports whether c is one of the protocol's codes.
func (c Code) Valid() bool {
	for _, k := range Codes {
		if k == c {
			return true
		}
	}
	return false
}

// RejectError is why an envelope (or a capability token) was refused.
// Field names the offending field where there is one ("payload.k",
// "content_refs[3]"); Detail says what was wrong in words.
type RejectError struct {
	Code   Code
	Field  string
	Detail string
}

func (e *RejectError) Error() string {
	if e.Field != "" {
		return fmt.Sprintf("%s: %s: %s", e.Code, e.Field, e.Detail)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Detail)
}

// Reject builds a *RejectError; detail is formatted with args.
func Reject(code Code, field, detail string, args ...any) *RejectError {
	if len(args) > 0 {
		detail = fmt.Sprintf(detail, args...)
	}
	return &RejectError{Code: code, Field: field, Detail: detail}
}

// CodeOf returns the rejection code carried by err (through any wrapping),
// or "" when err is nil or carries none.
func CodeOf(err error) Code {
	var re *RejectError
	if errors.As(err, &re) {
		return re.Code
	}
	return ""
}
