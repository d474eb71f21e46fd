package tlsgen

import (
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
	var out []*x509.Certificate
	for rest := b; ; {
		var block *pem.Block
		if block, rest = pem.Decode(rest); block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no PEM certificate", file)
	}
	return out, nil
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
