package replay

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"

	"github.com/canswarm/swarmhost/abi/envelope"
	"github.com/canswarm/swarmhost/host"
	"github.com/canswarm/swarmhost/host/audit"
	"github.com/canswarm/swarmhost/host/protocol"
)

// runStreamed replays a trail read as the replay goes (Options.Streamed):
// it holds the threads open at each point of the trail and what the core
// and the checks keep (per thread its envelope count and last line, and
// the ids of the envelopes the rules published), not every line.
//
// The trail is verified first, whole: every chain, head, record and
// signature, a window of lines at a time (audit.Verify), so that a line
// failing its checks is reported before any divergence it may explain, as
// in the whole replay. Then it is merged and stepped a batch at a time
// (host.StepTrailAll); at the end the heads of the lines stepped must be
// the heads verified (the trail did not change in between).
func runStreamed(ctx context.Context, opts Options, auditDir string) (*Report, error) {
	verified, err := audit.Verify(auditDir)
	if err != nil {
		return nil, err
	}
	store, err := openStore(opts)
	if err != nil {
		return nil, err
	}
	tokens := tokenOf(ctx, store)
	covered, checkpointID := 0, ""
	if opts.FromCheckpoint {
		if covered, checkpointID, err = lastCheckpointStreamed(auditDir, tokens); err != nil {
			return nil, err
		}
	}
	r := newReplayer(ctx, opts, store, covered)
	defer r.close()
	total, i := int(verified.Records), 0
	err = host.StepTrailAll(auditDir, tokens, func(ti *host.TrailInput) error {
		if err := r.stepAt(i, *ti); err != nil {
			return err
		}
		i++
		if opts.Progress != nil {
			opts.Progress(i, total)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if root := r.heads.Root(); root != verified.Root {
		return nil, fmt.Errorf("replay: the trail changed while it was replayed (audit root %s when verified, %s when stepped): replay it again",
			verified.Root, root)
	}
	if err := r.finish(); err != nil {
		return nil, err
	}
	r.report.Checkpoint, r.report.Covered, r.report.Streamed = checkpointID, covered, true
	if opts.Out != nil {
		r.print(opts.Out)
	}
	return &r.report, nil
}

// lastCheckpointStreamed is lastCheckpoint over a trail read as it goes:
// one pass of the merge notes every checkpoint line (its index, the root
// it names and the root of the lines before it) and every accepted
// CHECKPOINT envelope by the root it signs; the choice is then
// lastCheckpoint's, from the last checkpoint line back.
func lastCheckpointStreamed(auditDir string, tokens func(ref string) []byte) (int, string, error) {
	type checkpointLine struct {
		index        int
		thread       string
		line         int
		root, before string
	}
	type signedCheckpoint struct {
		thread string
		line   int
		sender string
		id     string
		wire   []byte
	}
	var (
		lines  []checkpointLine
		signed = map[string][]signedCheckpoint{} // by the root it signs, in trail order
		heads  audit.HeadIndex
		hostPK string
		i      int
	)
	err := host.StepTrailAll(auditDir, tokens, func(ti *host.TrailInput) error {
		switch in := ti.Input.(type) {
		case *protocol.Configure:
			if hostPK == "" {
				hostPK = in.HostPK
			}
		case *protocol.CheckpointDue:
			lines = append(lines, checkpointLine{index: i, thread: ti.Thread, line: ti.Line, root: in.AuditRoot, before: heads.Root()})
		case *protocol.Received:
			if in.Env != nil && in.Env.Verb == envelope.VerbCheckpoint && ti.Record.Kind == audit.KindEnvelope &&
				ti.Record.Verdict == audit.Accepted {
				var p struct {
					AuditRoot string `json:"audit_root"`
				}
				if json.Unmarshal(in.Env.Payload, &p) == nil && p.AuditRoot != "" {
					signed[p.AuditRoot] = append(signed[p.AuditRoot], signedCheckpoint{thread: ti.Thread, line: ti.Line,
						sender: in.Env.SenderPK, id: in.Env.ID, wire: bytes.Clone(ti.Record.Envelope)})
				}
			}
		}
		heads.Set(ti.Thread, ti.Record.Seq, ti.Hash)
		i++
		return nil
	})
	if err != nil {
		return 0, "", err
	}
	for c := len(lines) - 1; c >= 0; c-- {
		cl := lines[c]
		var env *signedCheckpoint
		for k := range signed[cl.root] {
			if s := &signed[cl.root][k]; s.sender == hostPK {
				env = s // the last one, as lastCheckpoint keeps
			}
		}
		if env == nil {
			continue // not published (the node stopped first): an earlier one
		}
		if _, err := envelope.Verify(env.wire); err != nil {
			return 0, "", &audit.TamperError{Thread: env.thread, Line: uint64(env.line), Problem: "the CHECKPOINT no longer verifies: " + err.Error()}
		}
		if cl.before != cl.root {
			return 0, "", &Divergence{Thread: cl.thread, Line: cl.line,
				Expected: "a checkpoint over audit root " + cl.root, Found: "the trail before it has root " + cl.before}
		}
		return cl.index, env.id, nil
	}
	return 0, "", nil
}
