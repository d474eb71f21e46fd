package bus

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/canswarm/swarmhost/internal/dirlock"
)

// ErrStoreInUse is part of StartEmbedded's error when another embedded
// server (another node, in this process or another) holds the folder.
var ErrStoreInUse = errors.New("in use by another server")

// Embedded is a nats-server with JetStream running inside this process,
// storing its streams under one folder. It listens on a TCP port too, so
// that other processes (the nats CLI, a second swarmhost) can connect.
type Embedded struct {
	srv  *server.Server
	dir  string
	lock *dirlock.Lock
}

// EmbeddedOption configures StartEmbedded.
type EmbeddedOption func(*embeddedOptions)

type embeddedOptions struct {
	host      string
	port      int
	logger    *slog.Logger
	cluster   *ClusterConfig
	secret    string
	routeTLS  *tls.Config
	clientTLS *tls.Config
}

// ClusterConfig joins an embedded server to a NATS cluster: JetStream then
// runs clustered (its meta group needs a majority of the servers up).
type ClusterConfig struct {
	Name       string   // the cluster's name, the same on every server (default "swarm")
	ServerName string   // this server's name, unique in the cluster
	Listen     string   // host:port for the other servers' routes
	Routes     []string // the other servers' route URLs, nats-route://host:port
}

// WithCluster makes the server one member of a cluster.
func WithCluster(c ClusterConfig) EmbeddedOption {
	return func(o *embeddedOptions) { o.cluster = &c }
}

// WithListen sets the address the server listens on for clients. Port 0
// picks a free port (read it back with ClientURL). The default is
// 127.0.0.1 and a free port: a single host needs no open network port.
func WithListen(host string, port int) EmbeddedOption {
	return func(o *embeddedOptions) { o.host, o.port = host, port }
}

// WithSecret makes the server take clients and routes only with secret
// (user SecretUser), and give it on the routes it makes ("" takes
// anyone, as NATS does by default).
func WithSecret(secret string) EmbeddedOption {
	return func(o *embeddedOptions) { o.secret = secret }
}

// WithRouteTLS makes the server's routes to and from the other servers
// of its cluster mutual TLS with cfg (its certificate, and the CA that
// signed every server's, as both RootCAs and ClientCAs): a server whose
// certificate that CA did not sign gets no route. RouteTLS builds one.
func WithRouteTLS(cfg *tls.Config) EmbeddedOption {
	return func(o *embeddedOptions) { o.routeTLS = cfg }
}

// RouteTLS is the mutual TLS configuration of a server's routes from PEM
// files: the CA's certificate, and this server's certificate and key.
func RouteTLS(caFile, certFile, keyFile string) (*tls.Config, error) {
	pair, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("bus: route TLS: %w", err)
	}
	caPEM, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("bus: route TLS: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, fmt.Errorf("bus: route TLS: %s holds no PEM certificate", caFile)
	}
	return &tls.Config{Certificates: []tls.Certificate{pair}, RootCAs: pool, ClientCAs: pool,
		ClientAuth: tls.RequireAndVerifyClientCert, MinVersion: tls.VersionTLS12}, nil
}

// WithLogger sends the server's log lines to l (notices at Info, debug and
// trace at Debug). Without it the server logs nothing, though a fatal error
// still reaches the caller through StartEmbedded's error.
func WithLogger(l *slog.Logger) EmbeddedOption {
	return func(o *embeddedOptions) { o.logger = l }
}

// readyTimeout bounds how long StartEmbedded waits for the server, which
// includes recovering the streams in dir.
const readyTimeout = 30 * time.Second

// StartEmbedded starts a server whose JetStream store is the folder dir
// (for a node, DATA/nats), creating it if needed. Only one server may use a
// folder at a time: a second StartEmbedded on the same folder fails, rather
// than letting two servers corrupt each other's files.
//
// The server fsyncs every write before acknowledging it (sync_interval:
// always): nats-server's default fsyncs every two minutes, and Jepsen's 2025
// analysis showed that default losing acknowledged messages on power loss.
func StartEmbedded(dir string, opts ...EmbeddedOption) (*Embedded, error) {
	o := embeddedOptions{host: "127.0.0.1"}
	for _, opt := range opts {
		opt(&o)
	}
	if dir == "" {
		return nil, errors.New("bus: embedded server: empty store folder")
	}
	if o.port < 0 || o.port > 65535 {
		return nil, fmt.Errorf("bus: embedded server: port %d out of range", o.port)
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("bus: embedded server: %w", err)
	}
	lock, err := dirlock.Acquire(dir, "swarmhost.lock")
	if errors.Is(err, dirlock.ErrHeld) {
		return nil, fmt.Errorf("bus: embedded server: %s is %w (%w)", dir, ErrStoreInUse, err)
	}
	if err != nil {
		return nil, fmt.Errorf("bus: embedded server: %w", err)
	}
	port := o.port
	if port == 0 {
		port = server.RANDOM_PORT
	}
	sopts := &server.Options{
		ServerName: "swarmhost",
		Host:       o.host,
		Port:       port,
		JetStream:  true,
		StoreDir:   dir,
		// sync_interval: always. The config parser (server/opts.go) maps
		// "always" to exactly this, leaving SyncInterval at its default.
		SyncAlways: true,
		// The host owns the process: the server must not install handlers
		// for SIGINT/SIGTERM/SIGHUP (it would exit or reload on them).
		NoSigs: true,
		// Logging goes through our adapter, set below, or nowhere.
		NoLog: true,
		// No HTTP monitoring port unless someone asks for one.
		HTTPPort: 0,
	}
	if o.secret != "" {
		if err := CheckSecret(o.secret); err != nil {
			lock.Release()
			return nil, fmt.Errorf("bus: embedded server: %w", err)
		}
		sopts.Username, sopts.Password = SecretUser, o.secret
	}
	if o.clientTLS != nil {
		// Mutual whatever the configuration says: nats-server checks client
		// certificates by the configuration's ClientAuth (TLSVerify is
		// only what its INFO tells clients).
		if o.clientTLS.ClientCAs == nil {
			lock.Release()
			return nil, errors.New("bus: embedded server: client TLS needs the CA whose certificates it takes from clients (ClientCAs; RouteTLS sets it)")
		}
		cfg := o.clientTLS.Clone()
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
		sopts.TLSConfig, sopts.TLSVerify, sopts.TLSTimeout = cfg, true, 5
	}
	if c := o.cluster; c != nil {
		if err := clusterOptions(sopts, c, o.secret, o.routeTLS); err != nil {
			lock.Release()
			return nil, fmt.Errorf("bus: embedded server: %w", err)
		}
	}
	srv, err := server.NewServer(sopts)
	if err != nil {
		lock.Release()
		return nil, fmt.Errorf("bus: embedded server: %w", err)
	}
	adapter := &logAdapter{l: o.logger}
	srv.SetLoggerV2(adapter, o.logger != nil && o.logger.Enabled(context.Background(), slog.LevelDebug), false, false)
	srv.Start()
	if err := waitReady(srv, adapter); err != nil {
		srv.Shutdown()
		srv.WaitForShutdown()
		lock.Release()
		return nil, fmt.Errorf("bus: embedded server on %s in %s: %w", net.JoinHostPort(o.host, strconv.Itoa(o.port)), dir, err)
	}
	return &Embedded{srv: srv, dir: dir, lock: lock}, nil
}

// waitReady waits until the server accepts clients with JetStream on, and
// gives up early when the server reports a fatal error: ReadyForConnections
// alone would wait out its whole timeout on a port already in use.
func waitReady(srv *server.Server, adapter *logAdapter) error {
	deadline := time.Now().Add(readyTimeout)
	for !srv.ReadyForConnections(20 * time.Millisecond) {
		if f := adapter.fatal(); f != "" {
			return errors.New(f)
		}
		if time.Now().After(deadline) {
			if e := adapter.lastError(); e != "" {
				return fmt.Errorf("not ready after %v: %s", readyTimeout, e)
			}
			return fmt.Errorf("not ready after %v", readyTimeout)
		}
	}
	if !srv.JetStreamEnabled() {
		if e := adapter.lastError(); e != "" {
			return fmt.Errorf("JetStream did not start: %s", e)
		}
		return errors.New("JetStream did not start")
	}
	return nil
}

// ClientURL returns the URL clients use to connect, with the real port when
// a free one was picked.
func (e *Embedded) ClientURL() string { return e.srv.ClientURL() }

// Dir returns the JetStream store folder.
func (e *Embedded) Dir() string { return e.dir }

// Routes is how many routes to other servers the server has now.
func (e *Embedded) Routes() int { return e.srv.NumRoutes() }

// Shutdown stops the server and waits until it has stopped: every stream is
// flushed and closed, every server goroutine has returned and the folder is
// free for another server. It is safe to call more than once.
func (e *Embedded) Shutdown() {
	e.srv.Shutdown()
	e.srv.WaitForShutdown()
	e.lock.Release()
}

// connectOption makes a client talk to this server through an in-process
// pipe rather than TCP: no port, no Nagle, no kernel round trip.
func (e *Embedded) connectOption() nats.Option { return nats.InProcessServer(e.srv) }

func clusterOptions(sopts *server.Options, c *ClusterConfig, secret string, routeTLS *tls.Config) error {
	if c.ServerName == "" {
		return errors.New("cluster: a server name is required")
	}
	name := c.Name
	if name == "" {
		name = "swarm"
	}
	host, port, err := splitListen(c.Listen)
	if err != nil {
		return fmt.Errorf("cluster listen %q: %w", c.Listen, err)
	}
	sopts.ServerName = c.ServerName
	sopts.Cluster = server.ClusterOpts{Name: name, Host: host, Port: port}
	if secret != "" {
		// Routes to this server must give the secret, and the routes it
		// makes give it (a route URL's user info is what NATS sends).
		sopts.Cluster.Username, sopts.Cluster.Password = SecretUser, secret
	}
	if routeTLS != nil {
		// One configuration serves both ways: accepting a route checks
		// the dialler's certificate (ClientCAs), dialling one checks the
		// server's against the route URL's host (RootCAs).
		sopts.Cluster.TLSConfig, sopts.Cluster.TLSTimeout = routeTLS, 5
	}
	for _, r := range c.Routes {
		u, err := url.Parse(r)
		if err != nil || u.Host == "" {
			return fmt.Errorf("route %q: want nats-route://host:port", r)
		}
		if secret != "" && u.User == nil {
			u.User = url.UserPassword(SecretUser, secret)
		}
		sopts.Routes = append(sopts.Routes, u)
	}
	return nil
}
