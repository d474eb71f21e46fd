// Package jsontext splits JSON text that has already been validated into
// its members or elements, without decoding the values: the raw text of
// each value, as a json.Decoder would read it, at a fraction of the cost.
// It validates nothing: callers check the text first (json.Valid and
// utf8.Valid, or a payload's canonical form). Pure: no I/O, part of the
// protocol core.
package jsontext
