package tlsgen

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"time"
)

// certificates parses every CERTIFICATE block of a PEM file.
func certificates(file string) ([]*x509.Certificate, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	cs, _, err := parseCertificates(file, b)
	return cs, err
}

// parseCertificates parses every CERTIFICATE block of PEM text (from
// where, for errors; at least one), and says whether the text holds
// anything else: another kind of block, or text outside the blocks.
func parseCertificates(where string, text []byte) (out []*x509.Certificate, other bool, err error) {
	for rest := text; ; {
		var block *pem.Block
		before := rest
		if block, rest = pem.Decode(rest); block == nil {
			other = other || len(bytes.TrimSpace(before)) > 0
			break
		}
		if i := bytes.Index(before, []byte("-----BEGIN")); i > 0 && len(bytes.TrimSpace(before[:i])) > 0 {
			other = true
		}
		if block.Type != "CERTIFICATE" {
			other = true
			continue
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, false, fmt.Errorf("%s: certificate %d: %w", where, len(out)+1, err)
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, false, fmt.Errorf("%s: no PEM certificate", where)
	}
	return out, other, nil
}

// NotAfter is when the first certificate in a PEM file stops being valid.
func NotAfter(certFile string) (time.Time, error) {
	cs, err := certificates(certFile)
	if err != nil {
		return time.Time{}, err
	}
	return cs[0].NotAfter, nil
}

// ChainExpiry is when a host's certificate (the first in certFile) or the
// CA that signed it (among the certificates of caFile: a bundle of an old
// and a new CA while one replaces the other) stops being valid, whichever
// comes first, and which file holds it. A host certificate that no
// certificate of caFile signed is an error: its peers would refuse it.
func ChainExpiry(caFile, certFile string) (file string, at time.Time, err error) {
	hosts, err := certificates(certFile)
	if err != nil {
		return "", time.Time{}, err
	}
	cas, err := certificates(caFile)
	if err != nil {
		return "", time.Time{}, err
	}
	leaf := hosts[0]
	var signer *x509.Certificate
	for _, ca := range cas {
		if leaf.CheckSignatureFrom(ca) == nil && (signer == nil || ca.NotAfter.After(signer.NotAfter)) {
			signer = ca
		}
	}
	if signer == nil {
		return "", time.Time{}, fmt.Errorf("%s: no certificate of %s signed it (its peers would refuse it)", certFile, caFile)
	}
	if !signer.NotAfter.After(leaf.NotAfter) {
		// The CA's end, also when the host's is the same (a certificate is
		// issued to end with its CA at the latest): a new one from that CA
		// would not help.
		return caFile, signer.NotAfter, nil
	}
	return certFile, leaf.NotAfter, nil
}
