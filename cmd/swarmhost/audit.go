package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/canswarm/swarmhost/abi/envelope"
	"github.com/canswarm/swarmhost/host/audit"
	"github.com/canswarm/swarmhost/host/lamport"
)

func newAuditCmd(e *env) *cobra.Command {
	appendCmd := &cobra.Command{
		Use:   "append FILE...",
		Short: "Verify envelopes and append each to its thread's trail; a rejected one is recorded with its reason (exit 1)",
		Args:  args(cobra.MinimumNArgs(1)),
		RunE: func(cmd *cobra.Command, files []string) error {
			clock, err := lamport.Open(e.path("lamport"), 0)
			if err != nil {
				return err
			}
			tr, err := audit.Open(e.path("audit"), e.warn)
			if err != nil {
				return err
			}
			defer tr.Close()
			rejected := 0
			for _, f := range files {
				text, err := e.readInput(f)
				if err != nil {
					return err
				}
				outcome, err := appendOne(tr, clock, text)
				if err != nil {
					return fmt.Errorf("%s: %w", f, err)
				}
				if outcome.rejected {
					rejected++
				}
				fmt.Fprintf(e.stdout, "%s: %s\n", f, outcome.line)
			}
			if rejected > 0 {
				fmt.Fprintf(e.stdout, "%d of %d rejected (recorded in the trail with their reasons)\n", rejected, len(files))
				return quietError{}
			}
			return nil
		},
	}
	verify := &cobra.Command{
		Use:   "verify",
		Short: "Check the whole trail: 'ok: T threads, R records, root sha256:...' or exit 1 naming thread and line",
		Args:  args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			rep, err := audit.Verify(e.path("audit"))
			if err != nil {
				var te *audit.TamperError
				if errors.As(err, &te) {
					fmt.Fprintf(e.stdout, "broken: %v\n", te)
					return quietError{}
				}
				return err
			}
			fmt.Fprintf(e.stdout, "ok: %d threads, %d records, root %s\n", rep.Threads, rep.Records, rep.Root)
			return nil
		},
	}
	return group("audit", "Append to and verify the audit trail", appendCmd, verify)
}

type appendOutcome struct {
	rejected bool
	line     string
}

// appendOne verifies one envelope and records it: accepted (the clock
// observes its time), a duplicate (acknowledged, nothing written), or
// rejected with its code.
func appendOne(tr *audit.Trail, clock *lamport.Clock, text []byte) (appendOutcome, error) {
	env, verr := envelope.Verify(text)
	if verr != nil {
		code := envelope.CodeOf(verr)
		if code == "" {
			return appendOutcome{}, verr
		}
		rec, err := tr.AppendRejected(text, code, clock.Now())
		if err != nil {
			return appendOutcome{}, err
		}
		return appendOutcome{true, fmt.Sprintf("rejected: %v (recorded as line %d of thread %s)", verr, rec.Seq, audit.ThreadOfRaw(text))}, nil
	}
	if err := clock.Observe(env.Lamport); err != nil {
		return appendOutcome{}, err
	}
	rec, err := tr.AppendEnvelope(env, clock.Now())
	if errors.Is(err, audit.ErrDuplicate) {
		return appendOutcome{false, fmt.Sprintf("duplicate %s (already in the trail; acknowledged, not written again)", env.ID)}, nil
	}
	if err != nil {
		return appendOutcome{}, err
	}
	return appendOutcome{false, fmt.Sprintf("accepted %s %s (line %d of thread %s)", env.Verb, env.ID, rec.Seq, env.Thread())}, nil
}

func (e *env) warn(msg string) { fmt.Fprintf(e.stderr, "swarmhost: warning: %s\n", msg) }
