package host

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/canswarm/swarmhost/abi/envelope"
	"github.com/canswarm/swarmhost/host/audit"
	"github.com/canswarm/swarmhost/host/protocol"
)

// TrailInput is one recorded input of a trail, in the order it was stepped.
type TrailInput struct {
	Thread string
	Line   int    // 1-based line in the thread's file
	Hash   string // the line's hash (what the next line names as prev)
	Record *audit.Record
	Input  protocol.Input // nil for lines that are outputs or clock lines
}

// ReadTrail reads every thread of an audit folder and returns the recorded
// inputs merged into the order the host stepped them (by received_lamport,
// which the host makes strictly increasing over all its lines), each
// envelope with the receipt time of its thread's last clock line. Tokens
// come from tokenOf (the CAS).
func ReadTrail(dir string, tokenOf func(ref string) []byte) ([]TrailInput, error) {
	return readTrail(dir, tokenOf, false, false)
}

// ReadTrailAll is ReadTrail with the rejected envelopes too, as inputs
// (replay steps them to check their verdicts).
func ReadTrailAll(dir string, tokenOf func(ref string) []byte) ([]TrailInput, error) {
	return readTrail(dir, tokenOf, true, false)
}

// ReadVerifiedTrail is ReadTrailAll for a trail audit.Verify has just
// checked: accepted envelopes are decoded without checking their
// signatures a second time.
func ReadVerifiedTrail(dir string, tokenOf func(ref string) []byte) ([]TrailInput, error) {
	return readTrail(dir, tokenOf, true, true)
}

func readTrail(dir string, tokenOf func(ref string) []byte, rejected, verified bool) ([]TrailInput, error) {
	threads, err := audit.Threads(dir)
	if err != nil {
		return nil, err
	}
	var all []TrailInput
	for _, th := range threads {
		name, err := audit.FileName(th)
		if err != nil {
			return nil, err
		}
		text, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return nil, err
		}
		line := 0
		for _, l := range splitLines(text) {
			line++
			rec, err := audit.ParseLine(l)
			if err != nil {
				return nil, fmt.Errorf("audit %s line %d: %w", th, line, err)
			}
			all = append(all, TrailInput{Thread: th, Line: line, Hash: audit.LineHash(l), Record: rec})
		}
	}
	sort.SliceStable(all, func(i, j int) bool { return all[i].Record.ReceivedLamport < all[j].Record.ReceivedLamport })
	lastAt := map[string]int64{}
	for i := range all {
		ti := &all[i]
		rec := ti.Record
		switch rec.Kind {
		case audit.KindEnvelope:
			if rec.Verdict != audit.Accepted {
				if !rejected {
					continue
				}
				raw, err := audit.DecodeRawText(rec.Envelope)
				if err != nil {
					return nil, fmt.Errorf("audit %s line %d: %w", ti.Thread, ti.Line, err)
				}
				r := &protocol.Received{At: lastAt[ti.Thread], Raw: raw}
				if e, err := envelope.Verify(raw); err != nil {
					r.Err = err
				} else {
					r.Env, r.Token = e, tokenOf(e.Capability)
				}
				ti.Input = r
				continue
			}
			check := envelope.Verify
			if verified {
				check = envelope.Decode
			}
			e, err := check(rec.Envelope)
			if err != nil {
				return nil, fmt.Errorf("audit %s line %d: %w", ti.Thread, ti.Line, err)
			}
			ti.Input = &protocol.Received{At: lastAt[ti.Thread], Raw: rec.Envelope, Env: e, Token: tokenOf(e.Capability)}
		case KindHeld:
			e, err := envelope.Verify(rec.Envelope)
			if err != nil {
				return nil, fmt.Errorf("audit %s line %d: held: %w", ti.Thread, ti.Line, err)
			}
			ti.Input = &protocol.Received{At: lastAt[ti.Thread], Raw: rec.Envelope, Env: e, Token: tokenOf(e.Capability)}
			continue
		case KindClock:
			var c struct {
				At int64 `json:"at"`
			}
			if err := json.Unmarshal(rec.Envelope, &c); err != nil {
				return nil, fmt.Errorf("audit %s line %d: clock: %w", ti.Thread, ti.Line, err)
			}
			lastAt[ti.Thread] = c.At
		case KindConsensus:
			ti.Input, err = decodeInput[protocol.Applied](rec.Envelope)
		case KindAgent:
			ti.Input, err = decodeInput[protocol.AgentDone](rec.Envelope)
		case KindPolicy:
			ti.Input, err = decodeInput[protocol.PolicyDone](rec.Envelope)
		case KindTimer:
			ti.Input, err = decodeInput[protocol.TimerFired](rec.Envelope)
		case KindConfig:
			ti.Input, err = decodeInput[protocol.Configure](rec.Envelope)
		case KindCheckpoint:
			ti.Input, err = decodeInput[protocol.CheckpointDue](rec.Envelope)
		}
		if err != nil {
			return nil, fmt.Errorf("audit %s line %d: %s: %w", ti.Thread, ti.Line, rec.Kind, err)
		}
	}
	return all, nil
}

func decodeInput[T any, P interface {
	*T
	protocol.Input
}](b []byte) (protocol.Input, error) {
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		return nil, err
	}
	return P(&v), nil
}

func splitLines(b []byte) [][]byte {
	var out [][]byte
	for len(b) > 0 {
		i := 0
		for i < len(b) && b[i] != '\n' {
			i++
		}
		if i > 0 {
			out = append(out, b[:i])
		}
		if i < len(b) {
			i++
		}
		b = b[i:]
	}
	return out
}

// rebuild steps the recorded trail into the fresh core, so that a restarted
// node knows every thread as it was; the actions are dropped (they were
// taken before the restart). The Configure the node steps next makes the
// core ask again for whatever was outstanding, timers included.
func (h *Host) rebuild() error {
	inputs, err := ReadTrail(h.Trail.Dir(), func(ref string) []byte { b, _ := h.token(ref); return b })
	if err != nil {
		return fmt.Errorf("host: rebuilding from the audit trail: %w", err)
	}
	for _, ti := range inputs {
		if ti.Record.Kind == KindClock {
			var c struct {
				At int64 `json:"at"`
			}
			json.Unmarshal(ti.Record.Envelope, &c)
			h.lastAt[ti.Thread] = c.At
		}
		if ti.Input == nil {
			continue
		}
		h.core.Step(ti.Input)
		h.core.Advance()
	}
	return nil
}
