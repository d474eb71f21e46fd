package bus_test

import (
	"testing"
	"time"

	"github.com/canswarm/swarmhost/host/bus"
)

func TestParseChaos(t *testing.T) {
	c, err := bus.ParseChaos("seed=7, drop=0.1,dup=0.2,delay=0.3,reorder=0.4,maxdelay=50ms")
	if err != nil {
		t.Fatal(err)
	}
	want := bus.Chaos{Seed: 7, Drop: 0.1, Dup: 0.2, Delay: 0.3, Reorder: 0.4, MaxDelay: 50 * time.Millisecond}
	if *c != want {
		t.Fatalf("got %+v, want %+v", *c, want)
	}
	for _, bad := range []string{"drop", "drop=2", "drop=-0.1", "seed=x", "loss=0.1", "maxdelay=soon"} {
		if _, err := bus.ParseChaos(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func FuzzParseChaos(f *testing.F) {
	f.Add("seed=1,drop=0.1")
	f.Add("maxdelay=1s,reorder=1")
	f.Fuzz(func(t *testing.T, s string) {
		c, err := bus.ParseChaos(s)
		if err != nil {
			return
		}
		for _, p := range []float64{c.Drop, c.Dup, c.Delay, c.Reorder} {
			if p < 0 || p > 1 || p != p {
				t.Fatalf("%q: probability %v accepted", s, p)
			}
		}
	})
}
