// Package tlsgen makes the certificates of a cluster's mutual TLS: a
// certificate authority (an ECDSA P-256 key and a self-signed CA
// certificate) and, signed by it, a certificate for each host naming the
// addresses its peers dial (IP addresses, or DNS names), usable both to
// serve and to connect. Everything is PEM: CERTIFICATE blocks and EC
// PRIVATE KEY blocks. It is what `swarmhost tls` writes for the Raft
// transport (consensus.Config.TLS); nothing here reads a clock except
// through the validity asked for.
package tlsgen
