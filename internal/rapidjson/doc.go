// Package rapidjson draws JSON for property tests (pgregory.net/rapid) of
// code that writes canonical JSON (RFC 8785) directly and must agree with
// encoding/json followed by jcs.Transform: values of the kinds trail
// records and policy inputs carry, and their text in the forms such code
// meets (canonical, as encoding/json writes it, indented, or absent).
// Tests import it; nothing else does.
package rapidjson
