package bus

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/nats-io/nats.go"
)

// WithClientTLS makes the server's client port speak mutual TLS with cfg
// (its certificate, and the CA whose certificates it takes from clients,
// as RouteTLS builds one): a client without a certificate that CA signed
// is refused before it can give the bus secret. The node's own
// connection to its embedded server is in-process and needs none.
func WithClientTLS(cfg *tls.Config) EmbeddedOption {
	return func(o *embeddedOptions) { o.clientTLS = cfg }
}

// ClientTLS is the TLS configuration of a client of a server whose client
// port speaks TLS, from PEM files: the CA that signed the server's
// certificate, and the client's certificate and key when the server asks
// for one (a swarmhost host's does); certFile and keyFile are both given
// or neither.
func ClientTLS(caFile, certFile, keyFile string) (*tls.Config, error) {
	if (certFile == "") != (keyFile == "") {
		return nil, errors.New("bus: client TLS: a certificate and its key go together")
	}
	caPEM, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("bus: client TLS: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, fmt.Errorf("bus: client TLS: %s holds no PEM certificate", caFile)
	}
	cfg := &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	if certFile != "" {
		pair, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return nil, fmt.Errorf("bus: client TLS: %w", err)
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	return cfg, nil
}

// TLSOption is the connection option that makes it TLS with cfg; nil
// leaves the connection as the URL and the server make it.
func TLSOption(cfg *tls.Config) nats.Option {
	if cfg == nil {
		return func(*nats.Options) error { return nil }
	}
	return nats.Secure(cfg)
}

// TLSHint says what to do when a connection failed for want of TLS, or
// for its certificates; "" for any other error. A server that refuses a
// client's certificate (none, or another CA's) is seen by the client in
// more than one way under TLS 1.3 (an alert, or the connection closed
// after the handshake): the hint names what to check either way.
func TLSHint(err error, haveTLS bool) string {
	if err == nil {
		return ""
	}
	msg := strings.ToLower(err.Error())
	switch {
	case strings.Contains(msg, "secure connection not available") && haveTLS:
		return " (the server does not speak TLS: leave --nats-tls out)"
	case strings.Contains(msg, "secure connection required") && !haveTLS:
		return " (the server's client port speaks TLS: give --nats-tls DIR, a folder with the CA's ca.crt and a client's host.crt and host.key (swarmhost tls client))"
	case !strings.Contains(msg, "tls") && !strings.Contains(msg, "x509") && !strings.Contains(msg, "certificate"):
		return ""
	case !haveTLS:
		return " (the server speaks TLS: give --nats-tls DIR, a folder with the CA's ca.crt and a client's host.crt and host.key (swarmhost tls client))"
	case strings.Contains(msg, "x509"):
		return " (the server's certificate does not check out against the ca.crt of --nats-tls: that CA must have signed it, for the address dialled)"
	}
	return " (the server refused this client's TLS: the --nats-tls folder needs host.crt and host.key of a CA the server takes: swarmhost tls client makes them)"
}
