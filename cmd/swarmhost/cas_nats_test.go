package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/canswarm/swarmhost/host/bus"
)

// cas put and get against an external NATS server (--nats-url) use the
// JetStream object store, and a blob altered there is reported corrupt.
func TestCASOverNATS(t *testing.T) {
	srv, err := bus.StartEmbedded(filepath.Join(t.TempDir(), "nats"))
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown()
	blob := filepath.Join(t.TempDir(), "blob")
	if err := os.WriteFile(blob, []byte("over the wire\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	if code := run([]string{"--nats-url", srv.ClientURL(), "cas", "put", blob}, nil, &out, &errOut); code != 0 {
		t.Fatalf("put: exit %d: %s", code, errOut.String())
	}
	ref := strings.TrimSpace(out.String())
	out.Reset()
	if code := run([]string{"--nats-url", srv.ClientURL(), "cas", "get", ref}, nil, &out, &errOut); code != 0 || out.String() != "over the wire\n" {
		t.Fatalf("get: exit %d, %q, %s", code, out.String(), errOut.String())
	}
	// Nothing went to the file store: the blob lives in the object store.
	if _, err := os.Stat("swarm-data"); err == nil {
		t.Fatal("a file store was created despite --nats-url")
	}

	// Replace the object's bytes under the same name, as an intruder would.
	b, err := bus.Connect(context.Background(), srv.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	obs, err := b.JetStream().ObjectStore(ctx, casBucket)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := obs.PutBytes(ctx, strings.TrimPrefix(ref, "sha256:"), []byte("under the wire\n")); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	errOut.Reset()
	if code := run([]string{"--nats-url", srv.ClientURL(), "cas", "get", ref}, nil, &out, &errOut); code != 1 || !strings.Contains(errOut.String(), "corrupt") || out.Len() != 0 {
		t.Fatalf("get of an altered object: exit %d, stdout %q, stderr %q", code, out.String(), errOut.String())
	}
}
