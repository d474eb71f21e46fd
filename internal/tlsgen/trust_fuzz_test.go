package tlsgen

import (
	"bytes"
	"encoding/pem"
	"strings"
	"testing"
	"time"
)

// FuzzParseCAs: whatever a file given to `tls trust add` or `remove`
// holds, parseCAs answers without panicking: CA certificates only, one per
// CERTIFICATE block, or an error naming the file.
func FuzzParseCAs(f *testing.F) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	ca, err := NewCA("seed CA", now, time.Hour)
	if err != nil {
		f.Fatal(err)
	}
	host, key, err := ca.Issue("seed host", []string{"127.0.0.1"}, now, time.Hour)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(ca.CertPEM())
	f.Add(append(ca.CertPEM(), ca.CertPEM()...))
	f.Add(host)
	f.Add(append(key, ca.CertPEM()...))
	f.Add(bytes.ReplaceAll(ca.CertPEM(), []byte("\n"), []byte("\r\n")))
	f.Add([]byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"))
	f.Add([]byte("not PEM"))
	f.Fuzz(func(t *testing.T, text []byte) {
		cas, err := parseCAs("the file", text, time.Time{})
		if err != nil {
			if !strings.HasPrefix(err.Error(), "the file: ") {
				t.Fatalf("the error does not name the file: %v", err)
			}
			return
		}
		blocks := 0
		for rest := text; ; {
			var b *pem.Block
			if b, rest = pem.Decode(rest); b == nil {
				break
			}
			if b.Type == "CERTIFICATE" {
				blocks++
			}
		}
		if len(cas) == 0 || len(cas) != blocks {
			t.Fatalf("%d CAs from %d CERTIFICATE blocks", len(cas), blocks)
		}
		for _, c := range cas {
			if !c.IsCA || !c.BasicConstraintsValid {
				t.Fatalf("a certificate that is not a CA's was taken: %s", c.Subject)
			}
		}
	})
}
