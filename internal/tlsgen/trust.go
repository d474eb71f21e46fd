package tlsgen

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"time"

	"github.com/canswarm/swarmhost/internal/atomicfile"
)

// A trust bundle is a PEM file of CA certificates (a host's ca.crt, its
// clients-ca.crt; a client's ca.crt): a host takes the peers, or clients,
// whose certificate one of them signed, and a client the servers. Holding
// an old and a new CA at once is how a cluster changes its CA without a
// moment when two of its hosts refuse each other: every host trusts both,
// then gets a certificate of the new one, then stops trusting the old
// (docs/OPERATING.md).

// TrustedCA is one certificate of a trust bundle.
type TrustedCA struct {
	Cert *x509.Certificate
	// Fingerprint is the SHA-256 of the certificate's DER, in hex: two CAs
	// of one name are told apart by it.
	Fingerprint string
	// SignedHost: it signed the certificate of the folder the bundle sits
	// in (ReadTrust's certFile).
	SignedHost bool
}

// Fingerprint is the SHA-256 of a certificate's DER, in hex.
func Fingerprint(c *x509.Certificate) string {
	sum := sha256.Sum256(c.Raw)
	return hex.EncodeToString(sum[:])
}

// ReadTrust reads the CA certificates of a trust bundle, as they are in
// the file, and marks those that signed the first certificate of certFile
// (none when certFile is "" or does not exist).
func ReadTrust(bundleFile, certFile string) ([]TrustedCA, error) {
	cas, err := certificates(bundleFile)
	if err != nil {
		return nil, err
	}
	leaf, err := FirstCertificate(certFile)
	if err != nil {
		return nil, err
	}
	out := make([]TrustedCA, len(cas))
	for i, c := range cas {
		out[i] = TrustedCA{Cert: c, Fingerprint: Fingerprint(c), SignedHost: leaf != nil && leaf.CheckSignatureFrom(c) == nil}
	}
	return out, nil
}

// FirstCertificate is the first certificate of a file, or nil when the
// file does not exist (or file is ""): a folder's own.
func FirstCertificate(file string) (*x509.Certificate, error) {
	if file == "" {
		return nil, nil
	}
	cs, err := certificates(file)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return cs[0], nil
}

// parseCAs reads the certificates of PEM text (from where, for errors),
// each of which must be a CA's, valid at now.
func parseCAs(where string, text []byte, now time.Time) ([]*x509.Certificate, error) {
	cs, _, err := parseCertificates(where, text)
	if err != nil {
		return nil, err
	}
	for i, c := range cs {
		switch {
		case !c.IsCA || !c.BasicConstraintsValid:
			return nil, fmt.Errorf("%s: certificate %d (%s) is not a CA's: a host's or a client's certificate cannot be trusted as one", where, i+1, c.Subject)
		case !now.IsZero() && !c.NotAfter.After(now):
			return nil, fmt.Errorf("%s: %s expired: no certificate it signed is taken", where, describeCA(c))
		}
	}
	return cs, nil
}

// readBundle reads a trust bundle to rewrite it: its certificates, each
// once, and its mode and owner. A bundle that does not exist is empty
// (absent). One holding anything but certificates (a CRL, a key, notes
// between the blocks) is refused: rewritten, that would be lost.
func readBundle(file string) (cas []*x509.Certificate, info fs.FileInfo, err error) {
	text, err := os.ReadFile(file)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	if info, err = os.Stat(file); err != nil {
		return nil, nil, err
	}
	all, other, err := parseCertificates(file, text)
	if err != nil {
		return nil, nil, err
	}
	if other {
		return nil, nil, fmt.Errorf("%s holds more than PEM certificates (another kind of block, or text between them): edit it by hand; tls trust rewrites a file of certificates alone", file)
	}
	for _, c := range all {
		if !slices.ContainsFunc(cas, c.Equal) {
			cas = append(cas, c)
		}
	}
	return cas, info, nil
}

// Trust adds the CA certificates of caPEM (from where, for errors) to the
// trust bundle, made if it does not exist, and returns those it added:
// one already there is not added twice, nor one expired at now (an
// error). The bundle is replaced atomically, keeping its mode and owner,
// and a certificate it held twice is kept once.
func Trust(bundleFile string, caPEM []byte, where string, now time.Time) (added []*x509.Certificate, err error) {
	adding, err := parseCAs(where, caPEM, now)
	if err != nil {
		return nil, err
	}
	have, info, err := readBundle(bundleFile)
	if err != nil {
		return nil, err
	}
	for _, c := range adding {
		if !slices.ContainsFunc(have, c.Equal) && !slices.ContainsFunc(added, c.Equal) {
			added = append(added, c)
		}
	}
	if len(added) == 0 {
		return nil, nil
	}
	return added, writeBundle(bundleFile, append(have, added...), info)
}

// Distrust removes the CA certificates of caPEM (from where, for errors)
// from the trust bundle and returns those it removed. Where the folder's
// own certificate (certFile) serves (a host's), it refuses to remove the
// CA that signed it: the host's peers would refuse it, and it them (give
// the host a certificate of another CA of the bundle first). A client's
// certificate is not checked: a client's bundle names the servers' CAs,
// not its own. It refuses to leave the bundle empty.
func Distrust(bundleFile, certFile string, caPEM []byte, where string) (removed []*x509.Certificate, err error) {
	removing, err := parseCAs(where, caPEM, time.Time{}) // an expired CA may go, of course
	if err != nil {
		return nil, err
	}
	have, info, err := readBundle(bundleFile)
	if err != nil {
		return nil, err
	}
	if info == nil {
		return nil, fmt.Errorf("%s: %w", bundleFile, fs.ErrNotExist)
	}
	leaf, err := FirstCertificate(certFile)
	if err != nil {
		return nil, err
	}
	if leaf != nil && !Serves(leaf) {
		leaf = nil
	}
	var kept []*x509.Certificate
	for _, c := range have {
		if !slices.ContainsFunc(removing, c.Equal) {
			kept = append(kept, c)
			continue
		}
		if leaf != nil && leaf.CheckSignatureFrom(c) == nil {
			return nil, fmt.Errorf("%s signed this host's certificate %s: removing it from %s would cut the host off; give the host a certificate of another CA first (swarmhost tls host --ca NEWCA --addr ... --replace)",
				describeCA(c), certFile, bundleFile)
		}
		removed = append(removed, c)
	}
	if len(removed) == 0 {
		return nil, nil
	}
	if len(kept) == 0 {
		return nil, fmt.Errorf("%s would hold no CA: a host trusts at least one (delete the file instead, where that is meant)", bundleFile)
	}
	return removed, writeBundle(bundleFile, kept, info)
}

// Serves says whether a certificate may serve TLS (a host's; a client's
// only connects).
func Serves(c *x509.Certificate) bool {
	return slices.Contains(c.ExtKeyUsage, x509.ExtKeyUsageServerAuth)
}

// describeCA names a CA for a person: its name, fingerprint and end.
func describeCA(c *x509.Certificate) string {
	return fmt.Sprintf("the CA %q (sha256 %s…, valid until %s)", c.Subject.CommonName, Fingerprint(c)[:16], c.NotAfter.UTC().Format(time.DateOnly))
}

// writeBundle replaces a trust bundle with the certificates given, in
// order, as was (its mode and owner; nil: a new file, 0644).
func writeBundle(file string, cas []*x509.Certificate, was fs.FileInfo) error {
	var text []byte
	for _, c := range cas {
		text = append(text, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	return replaceAs(file, text, was, 0o644)
}

// replaceAs replaces file atomically with data, keeping the mode and owner
// it had (was; nil for a file that did not exist: perm, and the caller's
// owner). A node running as a service user must still read a file an
// operator replaced as root.
func replaceAs(file string, data []byte, was fs.FileInfo, perm fs.FileMode) error {
	if was != nil {
		perm = was.Mode().Perm()
	}
	if err := atomicfile.Write(file, data, atomicfile.Options{Perm: perm}); err != nil {
		return err
	}
	if was == nil {
		return nil
	}
	if st, ok := was.Sys().(*syscall.Stat_t); ok && (int(st.Uid) != os.Geteuid() || int(st.Gid) != os.Getegid()) {
		if err := os.Chown(file, int(st.Uid), int(st.Gid)); err != nil {
			return fmt.Errorf("%s replaced, but not given back to its owner (uid %d, gid %d): %w; chown it before the node reads it", file, st.Uid, st.Gid, err)
		}
	}
	return nil
}

// ReplaceHost issues a new certificate for hosts (Issue) and puts it and
// its key in place of dir's host.crt and host.key (a renewal, or a move to
// a new CA), adding the CA to dir's ca.crt when it is not there (the CAs
// already there stay: the peers whose certificates they signed are still
// taken). dir must hold a host's certificate already (WriteHost makes a
// new folder). Each file is replaced atomically, keeping its mode and
// owner, the key first: a crash between the two leaves a certificate that
// is not its key's, which the node refuses, naming both (run this again).
// The Raft transport reads the files again at every connection it opens:
// a running node's outgoing connections take the new certificate before
// its restart.
func (ca *CA) ReplaceHost(dir, name string, hosts []string, now time.Time, validFor time.Duration) error {
	cert, key, err := ca.Issue(name, hosts, now, validFor)
	if err != nil {
		return err
	}
	return replaceLeaf(dir, cert, key, ca.CertPEM(), now, "a host's certificate (tls host without --replace makes one)")
}

// ReplaceClient is ReplaceHost for a client's folder (WriteClient): a new
// client certificate of the CA and its key, and serverCA added to the
// folder's ca.crt when it is not there.
func (ca *CA) ReplaceClient(dir, name string, serverCA []byte, now time.Time, validFor time.Duration) error {
	cert, key, err := ca.IssueClient(name, now, validFor)
	if err != nil {
		return err
	}
	return replaceLeaf(dir, cert, key, serverCA, now, "a client's certificate (tls client without --replace makes one)")
}

// replaceLeaf puts cert and key in place of dir's host.crt and host.key,
// which must exist (else: want, what to do), once trust is in its ca.crt.
func replaceLeaf(dir string, cert, key, trust []byte, now time.Time, want string) error {
	certFile, keyFile := filepath.Join(dir, HostCertFile), filepath.Join(dir, HostKeyFile)
	certInfo, err := os.Stat(certFile)
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%s does not hold %s: nothing to replace", dir, want)
	}
	if err != nil {
		return err
	}
	keyInfo, err := os.Stat(keyFile) // a key gone is written anew, 0600
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if _, err := tls.X509KeyPair(cert, key); err != nil {
		return fmt.Errorf("tlsgen: the new certificate and key: %w", err)
	}
	if _, err := Trust(filepath.Join(dir, CACertFile), trust, "the CA", now); err != nil {
		return err
	}
	if err := replaceAs(keyFile, key, keyInfo, 0o600); err != nil {
		return err
	}
	return replaceAs(certFile, cert, certInfo, 0o644)
}
