package bus

import (
	"strings"
	"testing"
	"time"
)

// A client joining a swarm's server publishes to the stream a node made,
// and changes nothing of its settings; a server no node has run on has no
// stream, and Join says so.
func TestJoinUsesTheNodesStream(t *testing.T) {
	checkLeaks(t)
	b := openBus(t, t.TempDir(), func(c *Config) { c.MaxAge = 48 * time.Hour })
	url := b.Embedded().ClientURL()
	client, err := Join(testCtx(t), url, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	n := need(t, 1)
	if ack, err := client.Publish(testCtx(t), n); err != nil || ack.Duplicate {
		t.Fatalf("a client's publish: %+v %v", ack, err)
	}
	if ack, err := client.Publish(testCtx(t), n); err != nil || !ack.Duplicate {
		t.Fatalf("the same envelope again: %+v %v, want a duplicate", ack, err)
	}
	client.Close()
	c := subscribe(t, b, Filter{}, "node")
	if d := next(t, c); d.Envelope == nil || d.Envelope.ID != n.ID {
		t.Fatalf("the node receives %+v", d)
	}
	info, err := b.stream.Info(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	if info.Config.MaxAge != 48*time.Hour {
		t.Fatalf("the stream's max age is %v after a client joined, want the node's 48h", info.Config.MaxAge)
	}

	emb, err := StartEmbedded(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer emb.Shutdown()
	if _, err := Join(testCtx(t), emb.ClientURL(), "", nil); err == nil || !strings.Contains(err.Error(), "no swarmhost node has run on this server") {
		t.Fatalf("joining a server without the stream: %v", err)
	}
}
