package bus

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Chaos is fault injection on the receiving side of the bus, for testing a
// real node: each delivery is, by seeded chance, dropped (not handed over:
// left unacknowledged and delivered again later, as a lost delivery is on an
// at-least-once bus), duplicated (handed over twice), delayed, or reordered
// (held back and handed over after the next one). Nothing published is
// lost: the stream keeps every message until it is acknowledged.
type Chaos struct {
	Seed                      uint64
	Drop, Dup, Delay, Reorder float64       // probabilities, 0..1
	MaxDelay                  time.Duration // the longest delay (default 200 ms)
}

// ParseChaos reads "seed=1,drop=0.1,dup=0.1,delay=0.2,reorder=0.1,maxdelay=300ms".
func ParseChaos(s string) (*Chaos, error) {
	c := &Chaos{}
	for _, part := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return nil, fmt.Errorf("chaos %q: want key=value pairs", part)
		}
		var err error
		switch k {
		case "seed":
			c.Seed, err = strconv.ParseUint(v, 10, 64)
		case "drop", "dup", "delay", "reorder":
			var p float64
			if p, err = strconv.ParseFloat(v, 64); err == nil && (p < 0 || p > 1) {
				err = fmt.Errorf("a probability is between 0 and 1")
			}
			switch k {
			case "drop":
				c.Drop = p
			case "dup":
				c.Dup = p
			case "delay":
				c.Delay = p
			default:
				c.Reorder = p
			}
		case "maxdelay":
			c.MaxDelay, err = time.ParseDuration(v)
		default:
			err = fmt.Errorf("unknown key (seed, drop, dup, delay, reorder, maxdelay)")
		}
		if err != nil {
			return nil, fmt.Errorf("chaos %q: %w", part, err)
		}
	}
	return c, nil
}

// ChaosConsumer hands over a Consumer's deliveries with faults injected.
type ChaosConsumer struct {
	c     *Consumer
	cfg   Chaos
	mu    sync.Mutex
	rng   *rand.Rand
	held  *Delivery   // a delivery held back to be reordered
	again []*Delivery // deliveries to hand over again (duplicates)
	// Counts of what was done, for tests.
	Dropped, Duplicated, Delayed, Reordered int
}

// WithChaos wraps a consumer.
func (c *Consumer) WithChaos(cfg Chaos) *ChaosConsumer {
	if cfg.MaxDelay <= 0 {
		cfg.MaxDelay = 200 * time.Millisecond
	}
	return &ChaosConsumer{c: c, cfg: cfg, rng: rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15))}
}

func (cc *ChaosConsumer) chance(p float64) bool { return p > 0 && cc.rng.Float64() < p }

// Next returns the next delivery after the faults the seed chose.
func (cc *ChaosConsumer) Next(ctx context.Context) (*Delivery, error) {
	for {
		cc.mu.Lock()
		if n := len(cc.again); n > 0 {
			d := cc.again[0]
			cc.again = cc.again[1:]
			cc.mu.Unlock()
			return d, nil
		}
		cc.mu.Unlock()
		d, err := cc.c.Next(ctx)
		if err != nil {
			cc.mu.Lock()
			held := cc.held
			cc.held = nil
			cc.mu.Unlock()
			if held != nil {
				return held, nil
			}
			return nil, err
		}
		cc.mu.Lock()
		switch {
		case cc.chance(cc.cfg.Drop):
			cc.Dropped++
			cc.mu.Unlock()
			d.NakAfter(time.Duration(cc.rng.Int64N(int64(cc.cfg.MaxDelay))) + time.Millisecond)
			continue
		case cc.held == nil && cc.chance(cc.cfg.Reorder):
			cc.Reordered++
			cc.held = d
			cc.mu.Unlock()
			continue
		}
		if cc.chance(cc.cfg.Dup) {
			cc.Duplicated++
			cc.again = append(cc.again, d.duplicate())
		}
		var delay time.Duration
		if cc.chance(cc.cfg.Delay) {
			cc.Delayed++
			delay = time.Duration(cc.rng.Int64N(int64(cc.cfg.MaxDelay)))
		}
		if cc.held != nil { // the held one goes after this one
			cc.again = append(cc.again, cc.held)
			cc.held = nil
		}
		cc.mu.Unlock()
		if delay > 0 {
			select {
			case <-time.After(delay):
			case <-ctx.Done():
			}
		}
		return d, nil
	}
}

// duplicate is a second handover of the same message; acknowledging it
// again is harmless (JetStream ignores an ack of an acked message).
func (d *Delivery) duplicate() *Delivery {
	c := *d
	return &c
}
