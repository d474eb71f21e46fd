package bus

import (
	"errors"
	"net/url"
	"path/filepath"
	"strconv"
	"testing"
)

// TestEmbeddedServer: a server on a free loopback port, with JetStream in
// the folder given and sync always, whose Shutdown frees the folder.
func TestEmbeddedServer(t *testing.T) {
	checkLeaks(t)
	dir := filepath.Join(t.TempDir(), "nats")
	e, err := StartEmbedded(dir)
	if err != nil {
		t.Fatalf("StartEmbedded: %v", err)
	}
	t.Cleanup(e.Shutdown)
	u, err := url.Parse(e.ClientURL())
	if err != nil || u.Hostname() != "127.0.0.1" || u.Port() == "" || u.Port() == "0" || u.Port() == "-1" {
		t.Fatalf("ClientURL %q: want nats://127.0.0.1:<free port> (%v)", e.ClientURL(), err)
	}
	jsc := e.srv.JetStreamConfig()
	if jsc == nil || !jsc.SyncAlways || jsc.StoreDir != filepath.Join(dir, "jetstream") {
		t.Fatalf("JetStream config %+v: want SyncAlways and StoreDir in %s", jsc, dir)
	}

	// One server per folder: a second one is refused while the first runs.
	if e2, err := StartEmbedded(dir); err == nil {
		e2.Shutdown()
		t.Fatal("a second server started on the same folder")
	} else if !errors.Is(err, ErrStoreInUse) {
		t.Fatalf("second server: %v, want an 'in use' error", err)
	}

	e.Shutdown()
	e.Shutdown() // idempotent (and once more in cleanup)

	e3, err := StartEmbedded(dir)
	if err != nil {
		t.Fatalf("StartEmbedded after Shutdown: %v", err)
	}
	e3.Shutdown()
}

// TestEmbeddedPortInUse: a failure to listen is reported, with the
// server's reason, instead of hanging or exiting the process.
func TestEmbeddedPortInUse(t *testing.T) {
	checkLeaks(t)
	e, err := StartEmbedded(t.TempDir())
	if err != nil {
		t.Fatalf("StartEmbedded: %v", err)
	}
	t.Cleanup(e.Shutdown)
	u, _ := url.Parse(e.ClientURL())
	port, _ := strconv.Atoi(u.Port())
	e2, err := StartEmbedded(t.TempDir(), WithListen("127.0.0.1", port))
	if err == nil {
		e2.Shutdown()
		t.Fatal("a second server listened on a port in use")
	}
	t.Logf("port in use: %v", err)
}

func TestStartEmbeddedBadArgs(t *testing.T) {
	if _, err := StartEmbedded(""); err == nil {
		t.Error("empty folder accepted")
	}
	if _, err := StartEmbedded(t.TempDir(), WithListen("127.0.0.1", 70000)); err == nil {
		t.Error("port 70000 accepted")
	}
}
