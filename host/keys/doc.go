// Package keys keeps a principal's Ed25519 keys on disk and issues the
// capability tokens of PROTOCOL.md section 4.
//
// # Contract
//
//   - A key file is JSON {"v":1,"public_key":"<64 hex>","seed":"<64 hex>"},
//     the 32-byte Ed25519 seed and the public key it derives, written
//     atomically with mode 0600. [Load] checks that the public key matches the
//     seed, and warns (through the caller's function) when the file is
//     readable by group or others.
//   - [Save] never overwrites an existing key file: a lost key is a lost
//     identity, so replacing one is an explicit act (remove the file first).
//   - A [Store] is a folder of named keys (DATA/keys/<name>.json); [Store.Ensure]
//     loads a key or creates it on first use.
//   - [IssueAndStore] signs a token with an issuer key and puts its JCS form
//     into any blob store, returning the ref an envelope names as capability.
package keys
