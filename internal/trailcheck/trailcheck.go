package trailcheck

import (
	"encoding/json"
	"fmt"
	"path/filepath"

	"github.com/canswarm/swarmhost/abi/envelope"
	"github.com/canswarm/swarmhost/host"
	"github.com/canswarm/swarmhost/host/audit"
	"github.com/canswarm/swarmhost/host/protocol"
)

// Report counts what was checked.
type Report struct {
	Hosts, Envelopes, Decides, Finalizes, Fenced int
	// IDs are the ids of every envelope accepted or rejected by any host.
	IDs map[string]bool
	// HostIDs are the same per host, keyed by the data folder as passed to
	// Check: what P7 is checked against (see Missing).
	HostIDs map[string]map[string]bool
}

// Missing returns, in order, the ids among ids that the trail of the data
// folder dir does not record (P7: every envelope a host received, accepted
// or rejected, is in its trail). dir is one of the folders passed to Check.
func (r *Report) Missing(dir string, ids []string) []string {
	var out []string
	for _, id := range ids {
		if !r.HostIDs[dir][id] {
			out = append(out, id)
		}
	}
	return out
}

// Check reads the trails of the data folders and checks P1 and P2.
func Check(dataDirs ...string) (*Report, error) {
	rep := &Report{IDs: map[string]bool{}, HostIDs: map[string]map[string]bool{}}
	decides := map[string]string{} // need/epoch -> DECIDE id, over all hosts
	finals := map[string]string{}  // need -> FINALIZE id
	for _, dir := range dataDirs {
		inputs, err := host.ReadTrailAll(filepath.Join(dir, "audit"), func(string) []byte { return nil })
		if err != nil {
			return nil, fmt.Errorf("%s: %w", dir, err)
		}
		rep.Hosts++
		ids := map[string]bool{}
		rep.HostIDs[dir] = ids
		fences := map[string]uint64{} // this host's decisions
		for _, ti := range inputs {
			if a, ok := ti.Input.(*protocol.Applied); ok && a.Cmd.Op == "DECIDE" {
				// The shard's decision, as this host applied it: the fence
				// a CLAIM, HEARTBEAT or COMMIT must name.
				fences[fmt.Sprintf("%s epoch %d", a.Cmd.Need, a.Cmd.Epoch)] = a.Fence
				continue
			}
			r, ok := ti.Input.(*protocol.Received)
			if !ok || ti.Record.Kind != audit.KindEnvelope {
				continue
			}
			if r.Env == nil {
				// Rejected as it failed its checks: known by the id it
				// claims, as a reader of the stream sees it.
				var claim struct {
					ID string `json:"id"`
				}
				if json.Unmarshal(r.Raw, &claim) == nil && claim.ID != "" {
					ids[claim.ID], rep.IDs[claim.ID] = true, true
				}
				continue
			}
			rep.Envelopes++
			ids[r.Env.ID], rep.IDs[r.Env.ID] = true, true
			if ti.Record.Verdict != audit.Accepted {
				continue
			}
			e := r.Env
			var p struct {
				Epoch uint64 `json:"epoch"`
				Fence uint64 `json:"fence"`
			}
			json.Unmarshal(e.Payload, &p)
			key := fmt.Sprintf("%s epoch %d", e.ThreadID, p.Epoch)
			where := fmt.Sprintf("%s: thread %s line %d", dir, ti.Thread, ti.Line)
			switch e.Verb {
			case envelope.VerbDecide:
				if prev, ok := decides[key]; ok && prev != e.ID {
					return nil, fmt.Errorf("P1: %s: a second DECIDE %s for %s (the first: %s)", where, e.ID, key, prev)
				}
				if f, ok := fences[key]; ok && f != p.Fence {
					return nil, fmt.Errorf("P2: %s: DECIDE %s says fence %d, the shard's decision has %d", where, e.ID, p.Fence, f)
				}
				decides[key] = e.ID
				rep.Decides++
			case envelope.VerbFinalize:
				if prev, ok := finals[e.ThreadID]; ok && prev != e.ID {
					return nil, fmt.Errorf("P1: %s: a second FINALIZE %s for %s (the first: %s)", where, e.ID, e.ThreadID, prev)
				}
				finals[e.ThreadID] = e.ID
				rep.Finalizes++
			case envelope.VerbClaim, envelope.VerbHeartbeat, envelope.VerbCommit:
				if f, ok := fences[key]; !ok || f != p.Fence {
					return nil, fmt.Errorf("P2: %s: %s %s accepted with fence %d; the shard's decision of %s applied there has fence %d",
						where, e.Verb, e.ID, p.Fence, key, f)
				}
				rep.Fenced++
			}
		}
	}
	return rep, nil
}
