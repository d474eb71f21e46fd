package tlsgen

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/canswarm/swarmhost/internal/atomicfile"
)

// A trust bundle is a PEM file of CA certificates (a host's ca.crt, its
// clients-ca.crt): a host takes the peers, or clients, whose certificate
// one of them signed. Holding an old and a new CA at once is how a
// cluster changes its CA without a moment when two of its hosts refuse
// each other: every host trusts both, then gets a certificate from the
// new one, then stops trusting the old (docs/OPERATING.md).

// TrustedCA is one certificate of a trust bundle.
type TrustedCA struct {
	Cert *x509.Certificate
	// Fingerprint is the SHA-256 of the certificate's DER, in hex: two CAs
	// `tls ca` made have the same name, never the same fingerprint.
	Fingerprint string
	// SignedHost: it signed the certificate of the host the bundle sits
	// beside (ReadTrust's hostCertFile).
	SignedHost bool
}

// Fingerprint is the SHA-256 of a certificate's DER, in hex.
func Fingerprint(c *x509.Certificate) string {
	sum := sha256.Sum256(c.Raw)
	return hex.EncodeToString(sum[:])
}

// ReadTrust reads the CA certificates of a trust bundle and marks the one
// that signed the first certificate of hostCertFile (none when
// hostCertFile is "" or does not exist).
func ReadTrust(bundleFile, hostCertFile string) ([]TrustedCA, error) {
	cas, err := certificates(bundleFile)
	if err != nil {
		return nil, err
	}
	leaf, err := hostLeaf(hostCertFile)
	if err != nil {
		return nil, err
	}
	out := make([]TrustedCA, len(cas))
	for i, c := range cas {
		out[i] = TrustedCA{Cert: c, Fingerprint: Fingerprint(c), SignedHost: leaf != nil && leaf.CheckSignatureFrom(c) == nil}
	}
	return out, nil
}

// hostLeaf is the first certificate of a host's certificate file, or nil
// when there is no such file.
func hostLeaf(hostCertFile string) (*x509.Certificate, error) {
	if hostCertFile == "" {
		return nil, nil
	}
	if _, err := os.Stat(hostCertFile); errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	cs, err := certificates(hostCertFile)
	if err != nil {
		return nil, err
	}
	return cs[0], nil
}

// parseCAs reads the certificates of PEM text (from where, for errors),
// each of which must be a CA's.
func parseCAs(where string, text []byte) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	for rest := text; ; {
		var block *pem.Block
		if block, rest = pem.Decode(rest); block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%s: certificate %d: %w", where, len(out)+1, err)
		}
		if !c.IsCA || !c.BasicConstraintsValid {
			return nil, fmt.Errorf("%s: certificate %d (%s) is not a CA's: a host's or a client's certificate cannot be trusted as one", where, len(out)+1, c.Subject)
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no PEM certificate", where)
	}
	return out, nil
}

// Trust adds the CA certificates of caPEM (from where, for errors) to the
// trust bundle, made if it does not exist, and returns those it added:
// one already there is not added twice. The bundle is replaced
// atomically.
func Trust(bundleFile string, caPEM []byte, where string) (added []*x509.Certificate, err error) {
	adding, err := parseCAs(where, caPEM)
	if err != nil {
		return nil, err
	}
	var have []*x509.Certificate
	if _, statErr := os.Stat(bundleFile); statErr == nil {
		if have, err = certificates(bundleFile); err != nil {
			return nil, err
		}
	} else if !errors.Is(statErr, fs.ErrNotExist) {
		return nil, statErr
	}
	for _, c := range adding {
		if !slices.ContainsFunc(have, c.Equal) && !slices.ContainsFunc(added, c.Equal) {
			added = append(added, c)
		}
	}
	if len(added) == 0 {
		return nil, nil
	}
	return added, writeBundle(bundleFile, append(have, added...))
}

// Distrust removes the CA certificates of caPEM (from where, for errors)
// from the trust bundle and returns those it removed. It refuses to remove
// the CA that signed the first certificate of hostCertFile (the host's
// peers would then refuse it, and it them: give the host a certificate of
// another CA of the bundle first) and to leave the bundle empty.
func Distrust(bundleFile, hostCertFile string, caPEM []byte, where string) (removed []*x509.Certificate, err error) {
	removing, err := parseCAs(where, caPEM)
	if err != nil {
		return nil, err
	}
	have, err := certificates(bundleFile)
	if err != nil {
		return nil, err
	}
	leaf, err := hostLeaf(hostCertFile)
	if err != nil {
		return nil, err
	}
	var kept []*x509.Certificate
	for _, c := range have {
		if !slices.ContainsFunc(removing, c.Equal) {
			kept = append(kept, c)
			continue
		}
		if leaf != nil && leaf.CheckSignatureFrom(c) == nil {
			return nil, fmt.Errorf("%s signed this host's certificate %s: removing it from %s would cut the host off; give the host a certificate of another CA first (swarmhost tls host --ca NEWCA --replace)",
				describeCA(c), hostCertFile, bundleFile)
		}
		removed = append(removed, c)
	}
	if len(removed) == 0 {
		return nil, nil
	}
	if len(kept) == 0 {
		return nil, fmt.Errorf("%s would hold no CA: a host trusts at least one (delete the file instead, where that is meant)", bundleFile)
	}
	return removed, writeBundle(bundleFile, kept)
}

// describeCA names a CA for a person: its name, fingerprint and end.
func describeCA(c *x509.Certificate) string {
	return fmt.Sprintf("the CA %q (sha256 %s…, valid until %s)", c.Subject.CommonName, Fingerprint(c)[:16], c.NotAfter.UTC().Format(time.DateOnly))
}

// writeBundle replaces a trust bundle with the certificates given, in order.
func writeBundle(file string, cas []*x509.Certificate) error {
	var b bytes.Buffer
	for _, c := range cas {
		pem.Encode(&b, &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
	}
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		return err
	}
	return atomicfile.Write(file, b.Bytes(), atomicfile.Options{Perm: 0o644})
}

// ReplaceHost issues a new certificate for hosts (Issue) and puts it and
// its key in place of dir's host.crt and host.key (a renewal, or a move to
// a new CA), adding the CA to dir's ca.crt when it is not there (the CAs
// already there stay: the peers whose certificates they signed are still
// taken). Each file is replaced atomically; the key is written first, so
// a crash between the two leaves a certificate that does not match its
// key, which a start names: run this again.
func (ca *CA) ReplaceHost(dir, name string, hosts []string, now time.Time, validFor time.Duration) error {
	cert, key, err := ca.Issue(name, hosts, now, validFor)
	if err != nil {
		return err
	}
	if _, err := Trust(filepath.Join(dir, CACertFile), ca.CertPEM(), "the CA"); err != nil {
		return err
	}
	if err := atomicfile.Write(filepath.Join(dir, HostKeyFile), key, atomicfile.Options{Perm: 0o600}); err != nil {
		return err
	}
	return atomicfile.Write(filepath.Join(dir, HostCertFile), cert, atomicfile.Options{Perm: 0o644})
}
