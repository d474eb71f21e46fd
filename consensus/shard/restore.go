package shard

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// restore checks one NEED line of a snapshot against the rules and builds
// its state. used holds the log indices already taken by fences and by
// finishing commands of the NEEDs restored so far: no two may share one.
func (m *Machine) restore(nl *needLine, used map[uint64]bool) (*needState, error) {
	bucket, ok := BucketOf(nl.Need)
	if !ok {
		return nil, errors.New("id is not a ref")
	}
	if len(nl.Epochs) == 0 {
		return nil, errors.New("no epochs")
	}
	n := &needState{id: nl.Need, bucket: bucket, abandoned: nl.Abandoned, finishedAt: nl.FinishedAt}
	var prev uint64 // the NEED's latest index so far
	take := func(what string, index uint64) error {
		if index <= prev || index > m.last || used[index] {
			return fmt.Errorf("%s at index %d: not increasing, above last_index, or reused", what, index)
		}
		prev, used[index] = index, true
		return nil
	}
	for i, el := range nl.Epochs {
		e, current := uint64(i+1), i == len(nl.Epochs)-1
		var es epochState
		if !isNull(el.Decide) {
			d, err := embedded[*Decide](el.Decide, n, e)
			if err != nil {
				return nil, fmt.Errorf("epoch %d: %w", e, err)
			}
			if err := take("DECIDE", el.Fence); err != nil {
				return nil, err
			}
			es.decide, es.fence = d, el.Fence
			m.counts.decided++
		} else if el.Fence != 0 {
			return nil, fmt.Errorf("epoch %d: a fence without a DECIDE", e)
		}
		if !isNull(el.Release) {
			r, err := embedded[*Release](el.Release, n, e)
			if err != nil {
				return nil, fmt.Errorf("epoch %d: %w", e, err)
			}
			es.release = r
		}
		abandoning := es.release != nil && es.release.MaxEpochs != 0 && e >= es.release.MaxEpochs
		switch {
		case !current && (es.release == nil || abandoning):
			return nil, fmt.Errorf("epoch %d: a past epoch needs a RELEASE that opened the next", e)
		case current && (es.release != nil) != n.abandoned, current && n.abandoned && !abandoning:
			return nil, fmt.Errorf("epoch %d: the last epoch is released exactly when abandoned", e)
		}
		n.epochs = append(n.epochs, es)
	}
	if !isNull(nl.Finalize) {
		f, err := embedded[*Finalize](nl.Finalize, n, n.current())
		if err != nil {
			return nil, fmt.Errorf("FINALIZE: %w", err)
		}
		if n.abandoned || n.cur().decide == nil {
			return nil, errors.New("FINALIZE of an abandoned NEED or an undecided epoch")
		}
		n.final = f
		m.counts.finalized++
	}
	if n.abandoned {
		m.counts.abandoned++
	}
	if n.finished() {
		return n, take("finishing command", n.finishedAt)
	}
	if n.finishedAt != 0 {
		return nil, errors.New("finished_at set on a live NEED")
	}
	return n, nil
}

func isNull(raw json.RawMessage) bool { return bytes.Equal(raw, null) }

// embedded parses a command stored in a snapshot and checks that it is a T
// about NEED n and epoch e.
func embedded[T interface {
	Command
	about() (string, uint64)
}](raw json.RawMessage, n *needState, e uint64) (T, error) {
	var zero T
	c, rej := parse(raw)
	if rej != nil {
		return zero, rej
	}
	t, ok := c.(T)
	if !ok {
		return zero, fmt.Errorf("a %s where another command was expected", c.Op())
	}
	if need, epoch := t.about(); need != n.id || epoch != e {
		return zero, errors.New("a command about another NEED or epoch")
	}
	return t, nil
}

func (d *Decide) about() (string, uint64)   { return d.Need, d.Epoch }
func (r *Release) about() (string, uint64)  { return r.Need, r.Epoch }
func (f *Finalize) about() (string, uint64) { return f.Need, f.Epoch }
