package tlsgen

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"time"
)

// NotAfter is when the first certificate in a PEM file stops being valid.
func NotAfter(certFile string) (time.Time, error) {
	b, err := os.ReadFile(certFile)
	if err != nil {
		return time.Time{}, err
	}
	for rest := b; ; {
		var block *pem.Block
		if block, rest = pem.Decode(rest); block == nil {
			return time.Time{}, fmt.Errorf("%s: no PEM certificate", certFile)
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return time.Time{}, fmt.Errorf("%s: %w", certFile, err)
		}
		return c.NotAfter, nil
	}
}

// FirstExpiry is the first of the certificate files to stop being valid,
// and when.
func FirstExpiry(certFiles ...string) (file string, at time.Time, err error) {
	if len(certFiles) == 0 {
		return "", time.Time{}, errors.New("tlsgen: no certificate file")
	}
	for _, f := range certFiles {
		t, err := NotAfter(f)
		if err != nil {
			return "", time.Time{}, err
		}
		if file == "" || t.Before(at) {
			file, at = f, t
		}
	}
	return file, at, nil
}
