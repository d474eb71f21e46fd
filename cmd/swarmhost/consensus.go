package main

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/canswarm/swarmhost/abi/envelope"
	"github.com/canswarm/swarmhost/consensus/shard"
	"github.com/canswarm/swarmhost/host/api"
)

// Placeholders for a DECIDE driven by hand: a shard DECIDE names a worker
// and at least one verifier, which an operator repairing a shard may not
// have. They are well-formed keys nobody holds.
var (
	placeholderWorker   = strings.Repeat("0", 64)
	placeholderVerifier = strings.Repeat("f", 64)
)

func newConsensusCmd(e *env) *cobra.Command {
	var asJSON bool
	status := &cobra.Command{
		Use:   "status",
		Short: "Every shard of the running node: buckets, leader, term, members, applied index, counts",
		Args:  args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return e.withNode(func(ctx context.Context, c *api.Client) error {
				st, err := c.Status(ctx)
				if err != nil {
					return err
				}
				if asJSON {
					return writeJSONLine(e, st)
				}
				fmt.Fprintf(e.stdout, "node %d  raft %s  shards %d  decided %d  finalized %d  collected %d  up %s\n",
					st.ReplicaID, st.RaftAddress, st.ShardCount, st.Decided, st.Finalized, st.Collected, st.Uptime)
				tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "SHARD\tBUCKETS\tLEADER\tTERM\tMEMBERS\tAPPLIED\tNEEDS\tDECIDED\tFINAL\tABANDONED\tCOLLECTED\tERROR")
				for _, s := range st.Shards {
					fmt.Fprintf(tw, "%d\t%s\t%d\t%d\t%s\t%d\t%d\t%d\t%d\t%d\t%d\t%s\n", s.Shard, bucketRange(s.Buckets),
						s.Leader, s.Term, members(s.Members), s.Applied, s.Needs, s.Decided, s.Finalized, s.Abandoned,
						s.Collected, s.Error)
				}
				return tw.Flush()
			})
		},
	}
	status.Flags().BoolVar(&asJSON, "json", false, "print the status as JSON")

	get := &cobra.Command{
		Use:   "get NEED_ID",
		Short: "The shard's record of one NEED (epoch, decision, fence, final), read linearizably",
		Args:  args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			if !envelope.IsRef(a[0]) {
				return usageError{fmt.Errorf("NEED_ID %q: want sha256:<64 hex>", a[0])}
			}
			return e.withNode(func(ctx context.Context, c *api.Client) error {
				ans, err := c.Need(ctx, a[0])
				if err != nil {
					return err
				}
				if err := writeJSONLine(e, ans); err != nil {
					return err
				}
				if !ans.Found {
					if ans.Collected {
						fmt.Fprintf(e.stderr, "%s: collected by GC\n", a[0])
					} else {
						fmt.Fprintf(e.stderr, "%s: the shard holds nothing about this NEED\n", a[0])
					}
					return quietError{}
				}
				return nil
			})
		},
	}

	var (
		epoch                                 uint64
		proposal, worker, verifiers, decideID string
		reason, commit, finalizeID            string
		maxEpochs                             uint64
	)
	decide := &cobra.Command{
		Use:   "decide NEED_ID --epoch E --proposal REF [--worker PK] [--verifiers PK,PK] [--decide-id REF]",
		Short: "Propose a DECIDE by hand; prints the shard's answer, exit 0 if accepted, 1 with the reason if rejected",
		Long: `Propose a DECIDE for (NEED_ID, --epoch) by hand, for inspection and repair.
--worker and --verifiers default to placeholder keys nobody holds (all 0s, all
fs); --decide-id defaults to the hash of the command without it, so the same
flags give the same command and a repeat is answered the same.`,
		Args: args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			b, err := bucketOf(a[0])
			if err != nil {
				return err
			}
			d := &shard.Decide{Need: a[0], Bucket: b, Epoch: epoch, Proposal: proposal, WorkerPK: worker,
				Verifiers: splitList(verifiers), DecideID: decideID}
			if d.DecideID == "" {
				d.DecideID = envelope.HashRef(d.Encode())
			}
			return e.propose(d)
		},
	}
	decide.Flags().Uint64Var(&epoch, "epoch", 0, "the epoch decided (required)")
	decide.Flags().StringVar(&proposal, "proposal", "", "ref of the chosen PROPOSE (required)")
	decide.Flags().StringVar(&worker, "worker", placeholderWorker, "the chosen worker's public key")
	decide.Flags().StringVar(&verifiers, "verifiers", placeholderVerifier, "the verifiers' public keys, comma-separated")
	decide.Flags().StringVar(&decideID, "decide-id", "", "the DECIDE envelope id (default: the command's hash)")
	decide.MarkFlagRequired("epoch")
	decide.MarkFlagRequired("proposal")

	release := &cobra.Command{
		Use:   "release NEED_ID --epoch E --reason expired|yielded|invalidated|no_bids [--max-epochs N]",
		Short: "Propose a RELEASE by hand; prints the answer, exit 0 if accepted, 1 with the reason if rejected",
		Args:  args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			b, err := bucketOf(a[0])
			if err != nil {
				return err
			}
			return e.propose(&shard.Release{Need: a[0], Bucket: b, Epoch: epoch, Reason: reason, MaxEpochs: maxEpochs})
		},
	}
	release.Flags().Uint64Var(&epoch, "epoch", 0, "the epoch released (required)")
	release.Flags().StringVar(&reason, "reason", shard.ReasonExpired, "expired, yielded, invalidated or no_bids")
	release.Flags().Uint64Var(&maxEpochs, "max-epochs", 0, "the NEED's max_epochs (0: no limit)")
	release.MarkFlagRequired("epoch")

	finalize := &cobra.Command{
		Use:   "finalize NEED_ID --epoch E --commit REF [--finalize-id REF]",
		Short: "Propose a FINALIZE by hand; prints the answer, exit 0 if accepted, 1 with the reason if rejected",
		Args:  args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			b, err := bucketOf(a[0])
			if err != nil {
				return err
			}
			f := &shard.Finalize{Need: a[0], Bucket: b, Epoch: epoch, Commit: commit, FinalizeID: finalizeID}
			if f.FinalizeID == "" {
				f.FinalizeID = envelope.HashRef(f.Encode())
			}
			return e.propose(f)
		},
	}
	finalize.Flags().Uint64Var(&epoch, "epoch", 0, "the epoch finalized (required)")
	finalize.Flags().StringVar(&commit, "commit", "", "ref of the COMMIT (required)")
	finalize.Flags().StringVar(&finalizeID, "finalize-id", "", "the FINALIZE envelope id (default: the command's hash)")
	finalize.MarkFlagRequired("epoch")
	finalize.MarkFlagRequired("commit")

	addHost := &cobra.Command{
		Use:   "add-host ID HOST:PORT",
		Short: "Add a host to every shard (then start it with swarmhost run --join)",
		Args:  args(cobra.ExactArgs(2)),
		RunE: func(cmd *cobra.Command, a []string) error {
			id, err := strconv.ParseUint(a[0], 10, 64)
			if err != nil || id == 0 {
				return usageError{fmt.Errorf("ID %q: a positive integer", a[0])}
			}
			return e.withNode(func(ctx context.Context, c *api.Client) error {
				if err := c.AddHost(ctx, id, a[1]); err != nil {
					return err
				}
				fmt.Fprintf(e.stdout, "added host %d at %s to every shard\n", id, a[1])
				return nil
			})
		},
	}
	removeHost := &cobra.Command{
		Use:   "remove-host ID",
		Short: "Remove a host from every shard (its replica id is never reused)",
		Args:  args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			id, err := strconv.ParseUint(a[0], 10, 64)
			if err != nil || id == 0 {
				return usageError{fmt.Errorf("ID %q: a positive integer", a[0])}
			}
			return e.withNode(func(ctx context.Context, c *api.Client) error {
				if err := c.RemoveHost(ctx, id); err != nil {
					return err
				}
				fmt.Fprintf(e.stdout, "removed host %d from every shard\n", id)
				return nil
			})
		},
	}
	return group("consensus", "Inspect and drive the DECIDE shards of the node running on --data",
		status, get, decide, release, finalize, addHost, removeHost)
}

// withNode calls fn with a client for the node running on --data.
func (e *env) withNode(fn func(context.Context, *api.Client) error) error {
	c, err := api.Dial(e.dataDir)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	return fn(ctx, c)
}

// propose sends a command and reports the answer: the result JSON on
// stdout; a rejection also as "rejected: CODE: detail" on stderr, exit 1.
func (e *env) propose(c shard.Command) error {
	return e.withNode(func(ctx context.Context, cl *api.Client) error {
		res, err := cl.Propose(ctx, c)
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "%s\n", res.Encode())
		if !res.Accepted {
			fmt.Fprintf(e.stderr, "rejected: %s: %s\n", res.Reason, res.Detail)
			return quietError{}
		}
		return nil
	})
}

func bucketOf(need string) (uint8, error) {
	b, ok := shard.BucketOf(need)
	if !ok {
		return 0, usageError{fmt.Errorf("NEED_ID %q: want sha256:<64 hex>", need)}
	}
	return b, nil
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func writeJSONLine(e *env, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(e.stdout, "%s\n", b)
	return err
}

// bucketRange writes a sorted bucket list compactly: "0-15" or "3,7".
func bucketRange(b []int) string {
	if len(b) == 0 {
		return "-"
	}
	if b[len(b)-1]-b[0] == len(b)-1 {
		return fmt.Sprintf("%d-%d", b[0], b[len(b)-1])
	}
	parts := make([]string, len(b))
	for i, x := range b {
		parts[i] = strconv.Itoa(x)
	}
	return strings.Join(parts, ",")
}

func members(m map[uint64]string) string {
	ids := make([]uint64, 0, len(m))
	for id := range m {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	parts := make([]string, len(ids))
	for i, id := range ids {
		parts[i] = strconv.FormatUint(id, 10)
	}
	return strings.Join(parts, ",")
}
