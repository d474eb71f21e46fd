package tlsgen

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// The files a host's folder holds (what consensus.Config.TLS and
// bus.RouteTLS read), and a CA's.
const (
	CACertFile   = "ca.crt"
	CAKeyFile    = "ca.key"
	HostCertFile = "host.crt"
	HostKeyFile  = "host.key"
	// ClientsCAFile, beside a host's files, is the CA of its NATS clients
	// alone: certificates it signed reach the NATS client port, not the
	// Raft transport or the routes.
	ClientsCAFile = "clients-ca.crt"
)

// WriteCA writes the CA's ca.crt and ca.key into dir (made if needed);
// neither may exist yet.
func (ca *CA) WriteCA(dir string) error {
	key, err := ca.KeyPEM()
	if err != nil {
		return err
	}
	return writeNew(dir, []file{{CACertFile, ca.CertPEM()}, {CAKeyFile, key}})
}

// WriteHost issues a certificate for hosts (Issue) and writes the CA's
// certificate, it and its key into dir (made if needed) as ca.crt,
// host.crt and host.key; none may exist yet.
func (ca *CA) WriteHost(dir, name string, hosts []string, now time.Time, validFor time.Duration) error {
	cert, key, err := ca.Issue(name, hosts, now, validFor)
	if err != nil {
		return err
	}
	return writeNew(dir, []file{{CACertFile, ca.CertPEM()}, {HostCertFile, cert}, {HostKeyFile, key}})
}

// WriteClient issues a client's certificate (IssueClient) and writes
// serverCA (the certificate of the CA that signed the servers' it will
// reach), it and its key into dir (made if needed) as ca.crt, host.crt and
// host.key (the names --nats-tls reads); none may exist yet.
func (ca *CA) WriteClient(dir, name string, serverCA []byte, now time.Time, validFor time.Duration) error {
	cert, key, err := ca.IssueClient(name, now, validFor)
	if err != nil {
		return err
	}
	return writeNew(dir, []file{{CACertFile, serverCA}, {HostCertFile, cert}, {HostKeyFile, key}})
}

// existsError is writeNew's refusal of a file that exists (it is
// fs.ErrExist).
type existsError string

func (e existsError) Error() string        { return string(e) + " exists: not overwritten" }
func (e existsError) Is(target error) bool { return target == fs.ErrExist }

type file struct {
	name string
	data []byte
}

// writeNew writes files into dir, none of which may exist yet: keys
// (.key) mode 0600, certificates 0644.
func writeNew(dir string, files []file) error {
	for _, f := range files {
		if _, err := os.Stat(filepath.Join(dir, f.name)); err == nil {
			return existsError(filepath.Join(dir, f.name))
		} else if !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, f := range files {
		mode := os.FileMode(0o644)
		if filepath.Ext(f.name) == ".key" {
			mode = 0o600
		}
		w, err := os.OpenFile(filepath.Join(dir, f.name), os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
		if err != nil {
			return err
		}
		if _, err := w.Write(f.data); err != nil {
			w.Close()
			return err
		}
		if err := w.Close(); err != nil {
			return err
		}
	}
	return nil
}
