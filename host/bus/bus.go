package bus

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Config says where the bus lives and how the envelope stream is kept.
type Config struct {
	// URL of an external NATS server or cluster. Empty: start an embedded
	// server in DataDir/nats.
	URL string
	// DataDir is the node's data folder; used only for the embedded server.
	DataDir string
	// Listen is the embedded server's client address, "host:port"; empty is
	// 127.0.0.1 on a free port. Port 0 also picks a free port.
	Listen string
	// Cluster, when set, joins the embedded server to a NATS cluster; the
	// stream is then replicated (Replicas defaults to 3, or fewer servers).
	Cluster *ClusterConfig
	// Logger receives the embedded server's log lines; nil logs nothing.
	Logger *slog.Logger

	// DedupWindow is how long the stream remembers message ids to drop
	// republished envelopes; 0 is DefaultDedupWindow. Receivers must still
	// de-duplicate by id: the window bounds the server's memory, not the
	// protocol's guarantee.
	DedupWindow time.Duration
	// MaxAge drops envelopes older than this from the stream; 0 keeps them
	// all (the audit trail, not the bus, is the record). It may not be
	// shorter than DedupWindow.
	MaxAge time.Duration
	// Replicas of the stream on a cluster; 0 is 1, except on an external
	// server whose stream exists already: 0 then keeps its replica count
	// (a node connecting to a cluster must not shrink its stream).
	Replicas int
	// AckWait is how long a delivered envelope may stay unacknowledged
	// before the server delivers it again; 0 is DefaultAckWait.
	AckWait time.Duration
	// RouteTLS, when set, makes the embedded server's cluster routes
	// mutual TLS (WithRouteTLS).
	RouteTLS *tls.Config
	// ClientTLS, when set, makes the embedded server's client port mutual
	// TLS (WithClientTLS; RouteTLS builds one); with URL, it is the TLS of
	// this connection to that server (ClientTLS builds one).
	ClientTLS *tls.Config
	// Secret, when set, is the bus's shared secret: the embedded server
	// takes clients and the other servers' routes only with it (user
	// SecretUser), and this connection gives it (to an external server
	// too, unless URL carries its own credentials).
	Secret string
}

// SecretUser is the user name a bus secret goes with.
const SecretUser = "swarmhost"

// MinSecretLen is the shortest bus secret taken.
const MinSecretLen = 16

// CheckSecret says what is wrong with a bus secret, if anything.
func CheckSecret(secret string) error {
	switch {
	case len(secret) < MinSecretLen:
		return fmt.Errorf("the bus secret has %d characters; give at least %d", len(secret), MinSecretLen)
	case strings.ContainsAny(secret, " \t\r\n@/:"):
		return errors.New("the bus secret holds a space, a line break or one of @ / : (it goes into route URLs); use letters, digits and other punctuation")
	}
	return nil
}

// SecretOption is the connection option that gives secret ("" gives
// nothing).
func SecretOption(secret string) nats.Option {
	if secret == "" {
		return func(*nats.Options) error { return nil }
	}
	return nats.UserInfo(SecretUser, secret)
}

// Defaults of Config.
const (
	DefaultDedupWindow = 24 * time.Hour
	MinDedupWindow     = 100 * time.Millisecond // the server's minimum
	DefaultAckWait     = 30 * time.Second
)

// Bus is a connection to the envelope stream, and the owner of the embedded
// server when it started one. It is safe for concurrent use.
type Bus struct {
	nc     *nats.Conn
	js     jetstream.JetStream
	stream jetstream.Stream
	emb    *Embedded // nil when connected to an external server
	cfg    Config

	mu        sync.Mutex
	closed    bool
	consumers map[*Consumer]struct{}
}

// ErrClosed is returned by operations on a closed Bus or Consumer.
var ErrClosed = errors.New("bus: closed")

// Open connects to cfg.URL, or starts an embedded server in
// cfg.DataDir/nats when cfg.URL is empty, and creates or updates the
// envelope stream.
func Open(ctx context.Context, cfg Config) (*Bus, error) {
	if cfg.Cluster != nil && cfg.Replicas == 0 {
		// Replicated over the cluster (before fill makes 0 mean 1): a
		// stream or consumer with its only replica on a server that dies
		// takes nothing more.
		cfg.Replicas = min(3, 1+len(cfg.Cluster.Routes))
	}
	keepReplicas := cfg.URL != "" && cfg.Replicas == 0
	if err := cfg.fill(); err != nil {
		return nil, err
	}
	var (
		emb  *Embedded
		nc   *nats.Conn
		err  error
		opts = []nats.Option{nats.Name("swarmhost")}
	)
	if cfg.Secret != "" {
		if err := CheckSecret(cfg.Secret); err != nil {
			return nil, fmt.Errorf("bus: %w", err)
		}
		opts = append(opts, SecretOption(cfg.Secret))
	}
	if cfg.URL == "" {
		if cfg.DataDir == "" {
			return nil, errors.New("bus: open: neither URL nor DataDir is set")
		}
		eopts := []EmbeddedOption{WithLogger(cfg.Logger), WithSecret(cfg.Secret), WithRouteTLS(cfg.RouteTLS), WithClientTLS(cfg.ClientTLS)}
		if cfg.Cluster != nil {
			eopts = append(eopts, WithCluster(*cfg.Cluster))
		}
		if cfg.Listen != "" {
			host, port, err := splitListen(cfg.Listen)
			if err != nil {
				return nil, err
			}
			eopts = append(eopts, WithListen(host, port))
		}
		if emb, err = StartEmbedded(filepath.Join(cfg.DataDir, "nats"), eopts...); err != nil {
			return nil, err
		}
		nc, err = nats.Connect("", append(opts, emb.connectOption())...)
	} else {
		// Keep reconnecting to a cluster: a publish or fetch in the meantime
		// fails with an error the caller sees, and nothing is lost.
		nc, err = nats.Connect(cfg.URL, append(opts, nats.MaxReconnects(-1), TLSOption(cfg.ClientTLS))...)
	}
	if err != nil {
		if emb != nil {
			emb.Shutdown()
		}
		return nil, fmt.Errorf("bus: connect %s: %w%s", orEmbedded(cfg.URL), err, TLSHint(err, cfg.ClientTLS != nil))
	}
	b, err := newBus(ctx, nc, emb, cfg, keepReplicas)
	if err != nil {
		nc.Close()
		if emb != nil {
			emb.Shutdown()
		}
		return nil, err
	}
	return b, nil
}

// Connect opens the bus on an external server with default settings.
func Connect(ctx context.Context, url string) (*Bus, error) {
	if url == "" {
		return nil, errors.New("bus: connect: empty URL")
	}
	return Open(ctx, Config{URL: url})
}

// Join connects to the server of a running swarm as a client, to publish
// envelopes (`swarmhost envelope publish`): it uses the envelope stream a
// node made there and changes nothing of it (Open creates or updates it,
// with its own settings). No stream there means no node has run on that
// server. tlsConfig (ClientTLS; nil: none) is the connection's TLS.
func Join(ctx context.Context, url, secret string, tlsConfig *tls.Config) (*Bus, error) {
	nc, err := nats.Connect(url, nats.Name("swarmhost client"), SecretOption(secret), TLSOption(tlsConfig))
	if err != nil {
		return nil, fmt.Errorf("bus: connect %s: %w%s", Redacted(url), err, TLSHint(err, tlsConfig != nil))
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("bus: jetstream: %w", err)
	}
	sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	stream, err := js.Stream(sctx, StreamName)
	if err != nil {
		nc.Close()
		if errors.Is(err, jetstream.ErrStreamNotFound) {
			return nil, fmt.Errorf("bus: %s has no stream %s: no swarmhost node has run on this server", url, StreamName)
		}
		return nil, fmt.Errorf("bus: stream %s on %s: %w", StreamName, url, err)
	}
	cfg := Config{URL: url}
	cfg.fill()
	return &Bus{nc: nc, js: js, stream: stream, cfg: cfg, consumers: map[*Consumer]struct{}{}}, nil
}

func newBus(ctx context.Context, nc *nats.Conn, emb *Embedded, cfg Config, keepReplicas bool) (*Bus, error) {
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("bus: jetstream: %w", err)
	}
	if keepReplicas {
		// An external server's stream keeps the replicas it was made with
		// (updating it to 1 would cut a cluster's copies down to one), and
		// consumers follow it.
		ictx, cancel := context.WithTimeout(ctx, 5*time.Second)
		if s, err := js.Stream(ictx, StreamName); err == nil {
			if info, err := s.Info(ictx); err == nil && info.Config.Replicas > 0 {
				cfg.Replicas = info.Config.Replicas
			}
		}
		cancel()
	}
	var stream jetstream.Stream
	// A clustered JetStream answers only once its meta group has a leader:
	// keep asking until ctx ends.
	for attempt := 0; ; attempt++ {
		stream, err = createStream(ctx, js, cfg)
		if err == nil || ctx.Err() != nil || !retryableJS(err) {
			break
		}
		select {
		case <-ctx.Done():
		case <-time.After(min(time.Duration(50<<min(attempt, 4))*time.Millisecond, time.Second)):
		}
	}
	if err != nil {
		return nil, fmt.Errorf("bus: stream %s on %s: %w", StreamName, orEmbedded(cfg.URL), err)
	}
	return &Bus{nc: nc, js: js, stream: stream, emb: emb, cfg: cfg, consumers: map[*Consumer]struct{}{}}, nil
}

// retryableJS reports whether a JetStream error means "not ready yet".
func retryableJS(err error) bool {
	return errors.Is(err, jetstream.ErrJetStreamNotEnabled) || errors.Is(err, nats.ErrNoResponders) ||
		errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrTimeout) ||
		strings.Contains(err.Error(), "temporarily unavailable") || strings.Contains(err.Error(), "insufficient resources") ||
		strings.Contains(err.Error(), "no suitable peers")
}

func createStream(ctx context.Context, js jetstream.JetStream, cfg Config) (jetstream.Stream, error) {
	actx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	return js.CreateOrUpdateStream(actx, jetstream.StreamConfig{
		Name:        StreamName,
		Description: "CAN Swarm envelopes (PROTOCOL.md section 2)",
		Subjects:    []string{streamSubjects},
		Storage:     jetstream.FileStorage,
		Retention:   jetstream.LimitsPolicy,
		Discard:     jetstream.DiscardOld,
		MaxAge:      cfg.MaxAge,
		Duplicates:  cfg.DedupWindow,
		Replicas:    cfg.Replicas,
	})
}

func (cfg *Config) fill() error {
	if cfg.DedupWindow == 0 {
		cfg.DedupWindow = DefaultDedupWindow
	}
	if cfg.AckWait == 0 {
		cfg.AckWait = DefaultAckWait
	}
	if cfg.Replicas == 0 {
		cfg.Replicas = 1
	}
	switch {
	case cfg.DedupWindow < MinDedupWindow:
		return fmt.Errorf("bus: dedup window %v is under the server's minimum of %v", cfg.DedupWindow, MinDedupWindow)
	case cfg.MaxAge < 0 || cfg.AckWait < 0 || cfg.Replicas < 0:
		return errors.New("bus: negative MaxAge, AckWait or Replicas")
	case cfg.MaxAge != 0 && cfg.MaxAge < cfg.DedupWindow:
		return fmt.Errorf("bus: MaxAge %v is shorter than the dedup window %v", cfg.MaxAge, cfg.DedupWindow)
	}
	return nil
}

func splitListen(addr string) (string, int, error) {
	host, p, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, fmt.Errorf("bus: listen address %q: %w", addr, err)
	}
	port, err := strconv.Atoi(p)
	if err != nil || port < 0 || port > 65535 {
		return "", 0, fmt.Errorf("bus: listen address %q: bad port", addr)
	}
	return host, port, nil
}

func orEmbedded(url string) string {
	if url == "" {
		return "embedded server"
	}
	return Redacted(url)
}

// Redacted is a NATS URL (or a list of them, comma-separated) fit to print:
// a password in it is shown as xxxxx.
func Redacted(urls string) string {
	parts := strings.Split(urls, ",")
	for i, p := range parts {
		if u, err := url.Parse(strings.TrimSpace(p)); err == nil && u.User != nil {
			parts[i] = u.Redacted()
		}
	}
	return strings.Join(parts, ",")
}

// Replicas is the envelope stream's replica count.
func (b *Bus) Replicas() int { return max(b.cfg.Replicas, 1) }

// JetStream returns the bus's JetStream handle, for other users of the same
// connection (the CAS object store).
func (b *Bus) JetStream() jetstream.JetStream { return b.js }

// Embedded returns the embedded server, or nil when the bus is connected to
// an external one.
func (b *Bus) Embedded() *Embedded { return b.emb }

// Conn is the bus's NATS connection (the node serves its NEED routes on
// it: host/api ServeOnBus).
func (b *Bus) Conn() *nats.Conn { return b.nc }

// LastSeq is the sequence of the last message the envelope stream holds
// (0 while it is empty): a reader that has taken in every message up to it
// has seen everything published before the call.
func (b *Bus) LastSeq(ctx context.Context) (uint64, error) {
	info, err := b.stream.Info(ctx)
	if err != nil {
		return 0, fmt.Errorf("bus: the envelope stream's last sequence: %w", err)
	}
	return info.State.LastSeq, nil
}

// Close closes every open Consumer, the connection and, if the bus started
// one, the embedded server, waiting for it to stop. Safe to call twice.
func (b *Bus) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	consumers := b.consumers
	b.consumers = nil
	b.mu.Unlock()

	for c := range consumers {
		c.close()
	}
	// Publishes and acks are synchronous; naks are not: flush them, or a
	// message handed back on the way out would wait out its ack wait.
	b.nc.FlushTimeout(2 * time.Second)
	b.nc.Close()
	if b.emb != nil {
		b.emb.Shutdown()
	}
	return nil
}

func (b *Bus) isClosed() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.closed
}
