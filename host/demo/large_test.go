package demo

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/canswarm/swarmhost/internal/plugintest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	plugintest.Cleanup()
	os.Exit(code)
}

// A file far past what the capsule admits inline (2,000 texts, 130 KB)
// is labelled whole: the input goes in the CAS, the NEED allows the agent
// calls the gas a large input needs, and the classifier's bid stays within
// the capsule's bid rule. Before, such a NEED was abandoned: out of gas,
// and bids over the capsule's price limit.
func TestDemoLabelsEveryItemOfALargeFile(t *testing.T) {
	items := make([]string, 2000)
	for i := range items {
		items[i] = fmt.Sprintf("support ticket %d: my parcel is late and I want a refund", i)
	}
	dir := t.TempDir()
	res, err := Run(context.Background(), Options{DataDir: filepath.Join(dir, "data"),
		PluginsSrc: filepath.Dir(plugintest.Path(t, "classifier")), Items: items})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Labels) != len(items) {
		t.Fatalf("%d labels for %d items", len(res.Labels), len(items))
	}
	for i, l := range res.Labels {
		if l == "" {
			t.Fatalf("item %d has no label", i)
		}
	}
	if res.Replay == nil || res.Replay.Decisions != 2 {
		t.Fatalf("replay of the demo's trail: %+v", res.Replay)
	}
}
