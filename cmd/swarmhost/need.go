package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/spf13/cobra"

	"github.com/canswarm/swarmhost/abi/envelope"
	"github.com/canswarm/swarmhost/host"
	"github.com/canswarm/swarmhost/host/api"
	"github.com/canswarm/swarmhost/host/bus"
	"github.com/canswarm/swarmhost/host/protocol"
)

func newNeedCmd(e *env) *cobra.Command {
	var (
		req       api.NeedRequest
		inputPath string
		wait      bool
		timeout   time.Duration
	)
	submit := &cobra.Command{
		Use:   "submit --capability KIND --input FILE|--input-ref REF [--k 3] [--n 3] [--wait]",
		Short: "Submit a NEED to the node running on --data (or a node of the swarm on --nats-url); prints its id, and with --wait the FINALIZE (exit 0) or why not (exit 1)",
		Args:  args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if inputPath != "" {
				input, err := e.readInput(inputPath)
				if err != nil {
					return fmt.Errorf("--input: %w", err)
				}
				if err := checkJSON(input); err != nil {
					return fmt.Errorf("--input %s: not JSON: %w", inputPath, err)
				}
				req.Input = input
			} else if !envelope.IsRef(req.InputRef) {
				return usageError{fmt.Errorf("--input-ref %q: want sha256:<64 hex>", req.InputRef)}
			}
			if req.Nonce == "" {
				req.Nonce = fmt.Sprint(time.Now().UnixNano())
			}
			c, closeClient, err := e.needClient()
			if err != nil {
				return err
			}
			defer closeClient()
			ctx, cancel := context.WithTimeout(context.Background(), timeout)
			defer cancel()
			id, err := c.SubmitNeed(ctx, req)
			if err != nil {
				return err
			}
			fmt.Fprintln(e.stdout, id)
			if !wait {
				return nil
			}
			info, err := c.ShowNeed(ctx, id, true)
			if err != nil {
				return fmt.Errorf("waiting for %s: %w", id, err)
			}
			return e.reportEnd(info)
		},
	}
	f := submit.Flags()
	f.StringVar(&req.Capability, "capability", "", "the task kind (required)")
	f.StringVar(&inputPath, "input", "", "the task's input, a JSON file ('-' for stdin) (required)")
	f.Uint64Var(&req.K, "k", 3, "passing attestations needed")
	f.Uint64Var(&req.N, "n", 3, "verifiers chosen")
	f.Uint64Var(&req.BidWindowMS, "bid-window-ms", 300, "how long bids are taken")
	f.Uint64Var(&req.LeaseMS, "lease-ms", 10000, "the worker's lease (renewed by HEARTBEAT)")
	f.Uint64Var(&req.MaxEpochs, "max-epochs", 3, "epochs before the NEED is abandoned")
	f.Uint64Var(&req.DeadlineMS, "deadline-ms", 600000, "abandon the NEED after this long")
	f.StringVar(&req.Capsule, "capsule", "", "ref of the policy capsule (default: the node's classify capsule)")
	f.StringVar(&req.Nonce, "nonce", "", "makes two otherwise identical NEEDs distinct (default: the time)")
	f.Uint64Var(&req.GasBudget, "gas-budget", 0, "gas each agent call on the NEED may use (default: the node's, 50 million, and for an input over 16 KiB 2,000 more per byte)")
	f.BoolVar(&req.InputInCAS, "input-in-cas", false, "put the input in the CAS and name it by content_refs[0], not inline (always so over 16 KiB; the classify capsule admits at most 100 texts of 1,000 characters inline)")
	f.BoolVar(&wait, "wait", false, "wait for the FINALIZE, or the reason there is none")
	f.DurationVar(&timeout, "timeout", 10*time.Minute, "give up waiting after this long")
	f.StringVar(&req.InputRef, "input-ref", "", "an input already in the node's CAS, instead of --input (cas put: --data DIR on the node's machine, --nats-url URL for the store a cluster's nodes share)")
	submit.MarkFlagRequired("capability")
	submit.MarkFlagsOneRequired("input", "input-ref")
	submit.MarkFlagsMutuallyExclusive("input", "input-ref")
	submit.MarkFlagsMutuallyExclusive("input-ref", "input-in-cas")

	var asJSON, showWait bool
	show := &cobra.Command{
		Use:   "show ID",
		Short: "The thread of a NEED on the node running on --data (or a node on --nats-url): state, epoch, decision, envelopes so far",
		Args:  args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			if !envelope.IsRef(a[0]) {
				return usageError{fmt.Errorf("ID %q: want sha256:<64 hex>", a[0])}
			}
			c, closeClient, err := e.needClient()
			if err != nil {
				return err
			}
			defer closeClient()
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			if showWait {
				ctx, cancel = context.WithTimeout(context.Background(), 11*time.Minute)
			}
			defer cancel()
			info, err := c.ShowNeed(ctx, a[0], showWait)
			if err != nil {
				return err
			}
			if asJSON {
				return writeJSONLine(e, info)
			}
			fmt.Fprintf(e.stdout, "need %s\nstate %s  epoch %d  capability %s\n", info.ID, info.Phase, info.Epoch, info.Capability)
			if info.Retired {
				fmt.Fprintln(e.stdout, "retired: ended, and a checkpoint kept only this summary in memory (the audit trail has the rest)")
			}
			if d := info.Decision; d != nil {
				fmt.Fprintf(e.stdout, "decision: worker %s fence %d verifiers %d\n", d.WorkerPK, d.Fence, len(d.Verifiers))
			}
			if info.Result != "" {
				fmt.Fprintf(e.stdout, "result %s\n", info.Result)
			}
			if info.Refusal != "" {
				label := "refused"
				if info.Phase == protocol.PhaseRejected {
					label = "rejected"
				}
				fmt.Fprintf(e.stdout, "%s: %s\n", label, info.Refusal)
			}
			if info.Abandoned != "" {
				fmt.Fprintf(e.stdout, "abandoned: %s\n", info.Abandoned)
			}
			if info.EnvelopesError != "" {
				fmt.Fprintf(e.stdout, "envelopes: incomplete: %s\n", info.EnvelopesError)
			}
			fmt.Fprintf(e.stdout, "envelopes (%d):\n", len(info.Envelopes))
			for _, s := range info.Envelopes {
				fmt.Fprintf(e.stdout, "  %-11s lamport %-4d %s from %s\n", s.Verb, s.Lamport, s.ID, s.Sender[:16])
			}
			return nil
		},
	}
	show.Flags().BoolVar(&asJSON, "json", false, "print the thread as JSON")
	show.Flags().BoolVar(&showWait, "wait", false, "first wait until the NEED is final, abandoned or refused")
	return group("need", "Submit NEEDs to the node running on --data (or to the swarm on --nats-url) and follow them", submit, show, newNeedListCmd(e))
}

// needClient is how the need commands reach a node: its HTTP API, found
// through --data (its run file), or with --nats-url the NEED routes every
// node serves on the bus (one of the swarm's nodes answers).
type needClient interface {
	SubmitNeed(ctx context.Context, req api.NeedRequest) (string, error)
	ShowNeed(ctx context.Context, id string, wait bool) (protocol.ThreadInfo, error)
	ListNeeds(ctx context.Context, q api.NeedQuery) (api.NeedList, error)
}

func (e *env) needClient() (needClient, func(), error) {
	if e.natsURL == "" {
		c, err := api.Dial(e.dataDir)
		return c, func() {}, err
	}
	secret, err := e.busSecret()
	if err != nil {
		return nil, nil, err
	}
	tlsConfig, err := e.natsTLS(e.dataDir, false)
	if err != nil {
		return nil, nil, err
	}
	nc, err := nats.Connect(e.natsURL, nats.Name("swarmhost need"), bus.SecretOption(secret), bus.TLSOption(tlsConfig))
	if err != nil {
		return nil, nil, fmt.Errorf("connect to NATS at %s: %w%s%s", bus.Redacted(e.natsURL), err, secretHint(err, secret), bus.TLSHint(err, tlsConfig != nil))
	}
	return &api.BusClient{NC: nc}, nc.Close, nil
}

func newNeedListCmd(e *env) *cobra.Command {
	var (
		state, after string
		limit        int
		asJSON       bool
	)
	list := &cobra.Command{
		Use:   "list [--state S] [--limit N] [--after ID] [--json]",
		Short: "The NEEDs the node running on --data (or a node on --nats-url) knows, by id: state, epoch, capability, and result or why not",
		Long: `List the NEEDs the node running on --data knows, in id order, one per line:
id, state, epoch, capability, and the result (final) or the reason (refused,
abandoned). --state keeps one state: ` + strings.Join(api.NeedStates, ", ") + `
("active": not ended; "ended": final, abandoned or refused). With --json, one
JSON object per line. 'need show ID' has a NEED's decision and envelopes.`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			q := api.NeedQuery{State: state, After: after, Limit: api.MaxNeedsPage}
			if limit > 0 {
				q.Limit = min(limit, api.MaxNeedsPage)
			}
			if err := q.Check(); err != nil {
				return usageError{fmt.Errorf("--%w", err)}
			}
			c, closeClient, err := e.needClient()
			if err != nil {
				return err
			}
			defer closeClient()
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			shown := 0
			for {
				page, err := c.ListNeeds(ctx, q)
				if err != nil {
					return err
				}
				if page.Behind != "" {
					fmt.Fprintf(e.stderr, "swarmhost: the node answering may lack NEEDs submitted through others just now: %s\n", page.Behind)
				}
				for _, n := range page.Needs {
					if asJSON {
						b, err := json.Marshal(n)
						if err != nil {
							return err
						}
						fmt.Fprintf(e.stdout, "%s\n", b)
					} else {
						fmt.Fprintln(e.stdout, needLine(n))
					}
					if shown++; limit > 0 && shown == limit {
						if n.ID != page.Needs[len(page.Needs)-1].ID || page.Next != "" {
							fmt.Fprintf(e.stderr, "(more: need list --after %s)\n", n.ID)
						}
						return nil
					}
				}
				if page.Next == "" {
					return nil
				}
				q.After = page.Next
			}
		},
	}
	list.Flags().StringVar(&state, "state", "", "only NEEDs in this state (or active, ended)")
	list.Flags().IntVar(&limit, "limit", 0, "at most this many (default: all); when there are more, stderr says how to go on")
	list.Flags().StringVar(&after, "after", "", "only NEEDs whose id comes after this one (the last id of a list cut by --limit)")
	list.Flags().BoolVar(&asJSON, "json", false, "one JSON object per NEED")
	return list
}

// needLine is a NEED on one line of need list.
func needLine(n api.NeedSummary) string {
	what := ""
	switch {
	case n.Result != "" && n.State == protocol.PhaseFinal:
		what = "result " + n.Result
	case n.Refusal != "":
		what = n.Refusal
	case n.Abandoned != "":
		what = n.Abandoned
	}
	return strings.TrimRight(fmt.Sprintf("%s  %-10s epoch %d  %s  %s", n.ID, n.State, n.Epoch, n.Capability, what), " ")
}

// reportEnd prints how a NEED ended: exit 0 for FINAL, 1 otherwise.
func (e *env) reportEnd(info protocol.ThreadInfo) error {
	switch info.Phase {
	case protocol.PhaseFinal:
		fmt.Fprintf(e.stdout, "FINALIZE %s: result %s (epoch %d, %d attestations)\n", info.Finalize, info.Result, info.Epoch, len(info.Attestation))
		return nil
	case protocol.PhaseRefused:
		fmt.Fprintf(e.stderr, "refused: %s\n", info.Refusal)
		switch {
		case info.Refusal == protocol.AdmitDenied:
			// A boolean admit says no more (the node's default capsule
			// says why).
			fmt.Fprintln(e.stderr, "hint: the NEED's capsule decides what it admits, and this one says no more than false "+
				"(a capsule says why by answering {\"refused\": [reasons]}: policies/README.md)")
		case strings.Contains(info.Refusal, "more go in the CAS"):
			// The classify capsule's limits on an inline input (texts,
			// characters) do not apply to one in the CAS.
			fmt.Fprintln(e.stderr, "hint: need submit --input-in-cas puts the input in the CAS and names it by its ref")
		}
	case protocol.PhaseRejected:
		fmt.Fprintf(e.stderr, "rejected: %s\n", info.Refusal)
	case protocol.PhaseAbandoned:
		fmt.Fprintf(e.stderr, "abandoned: %s\n", info.Abandoned)
		switch {
		case strings.Contains(info.Abandoned, "verify of the COMMIT failed: out of gas"):
			fmt.Fprintf(e.stderr, "hint: the host's capsule evaluations have the node's policy gas (%s), whatever the NEED's gas budget; "+
				"the classify capsule's verify reaches it near 40,000 texts: split the input\n", humanCount(host.PolicyGas))
		case strings.Contains(info.Abandoned, "out of gas"):
			fmt.Fprintln(e.stderr, "hint: each agent call on a NEED may use its gas budget (need submit --gas-budget; by default the node's 50 million, and 2,000 more per byte of an input over 16 KiB)")
		}
	default:
		fmt.Fprintf(e.stderr, "not finished: %s\n", info.Phase)
	}
	return quietError{}
}

// humanCount writes n with thousands separators (200,000,000).
func humanCount(n uint64) string {
	s := strconv.FormatUint(n, 10)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
