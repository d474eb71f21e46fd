package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"github.com/canswarm/swarmhost/host/api"
	"github.com/canswarm/swarmhost/host/audit"
	"github.com/canswarm/swarmhost/host/cas"
	"github.com/canswarm/swarmhost/host/replay"
)

func newReplayCmd(e *env) *cobra.Command {
	var noRerun, fromCheckpoint, streamed bool
	c := &cobra.Command{
		Use:   "replay [--data D | DIR] [--no-rerun] [--from-checkpoint] [--streamed]",
		Short: "Check a node's audit trail against the rules byte for byte: 'replay: ok, ...' or exit 1 at the first divergence",
		Long: `Verify every trail of the data folder (chains, signatures, canonical bytes),
then feed the recorded inputs through the protocol core again, re-evaluate
every capsule and re-run every agent from its recorded input, and compare:
every verdict, every DECIDE, RELEASE, INVALIDATE, FINALIZE, CHECKPOINT and
RECONCILE of the host (by id), every evaluation digest and gas figure, every
agent output. Prints a
line per thread and a summary, or exits 1 naming the thread and line of the
first divergence, what the trail records and what replay found. A host of a
cluster keeps in DATA/cas a copy of every blob it put or read from the
cluster's shared store, so its data folder replays alone; for a trail
recorded before hosts kept those copies, --nats-url names a running server
of the cluster, whose shared store is then read for what DATA/cas lacks
(replay writes nothing into the folder it checks).

--from-checkpoint starts at the trail's last CHECKPOINT (a node writes one
when it stops cleanly): the lines its signed Merkle root covers are chained
and stepped through the core to rebuild its state, but their signatures are
not verified again and their agents and capsules not re-run; every line
after it is checked in full. A covered line edited changes the root, which
replay names at the checkpoint's line.

--streamed reads the trail as the replay goes instead of whole first (chosen
by itself for a trail over 256 MiB): memory is bounded by the threads open
at each point and the protocol core's own state, not by the trail's length.
It verifies every line first (chains, heads, signatures; a long thread a
window at a time), then merges and steps them; with --from-checkpoint the
covered lines' signatures are verified too, and only their re-runs spared.`,
		Args: args(cobra.MaximumNArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			dir := e.dataDir
			if len(a) == 1 {
				if f := cmd.Flag("data"); f != nil && f.Changed && filepath.Clean(a[0]) != filepath.Clean(e.dataDir) {
					return usageError{fmt.Errorf("replay %s and --data %s: name the data folder once", a[0], e.dataDir)}
				}
				dir = a[0]
			}
			opts := replay.Options{DataDir: dir, Out: e.stdout, NoRerun: noRerun, FromCheckpoint: fromCheckpoint, Streamed: streamed}
			if f, ok := e.stderr.(*os.File); ok && isTerminal(f) {
				var bar *progressbar.ProgressBar
				opts.Progress = func(done, total int) {
					if total < 2000 {
						return
					}
					if bar == nil {
						bar = progressbar.NewOptions(total, progressbar.OptionSetWriter(f), progressbar.OptionSetDescription("replay"),
							progressbar.OptionClearOnFinish(), progressbar.OptionThrottle(100_000_000))
					}
					bar.Set(done)
				}
			}
			// A cluster host keeps copies of its blobs in DATA/cas; the
			// cluster's shared store (--nats-url, or the running node's run
			// file, names its server) is read for what DATA/cas lacks.
			url, err := e.casNATS(dir)
			if errors.Is(err, api.ErrNoNode) {
				url, err = "", nil // a cluster's host that crashed: its copies in DATA/cas
			}
			if err != nil {
				return err
			}
			if url != "" {
				// DATA/cas is read if there is one; none is made (a trail
				// recorded before hosts kept copies may have none).
				var local cas.Store
				if st, serr := os.Stat(filepath.Join(dir, "cas")); serr == nil && st.IsDir() {
					if local, err = cas.NewFileStore(filepath.Join(dir, "cas")); err != nil {
						return err
					}
				}
				err = e.withCASOf(context.Background(), dir, func(s cas.Store) error {
					opts.Store = s
					if local != nil {
						opts.Store = cas.ReadThrough(local, s)
					}
					_, err := replay.Run(context.Background(), opts)
					return err
				})
			} else {
				_, err = replay.Run(context.Background(), opts)
			}
			var div *replay.Divergence
			var tamper *audit.TamperError
			switch {
			case errors.As(err, &div):
				fmt.Fprintf(e.stderr, "replay: divergence: thread %s line %d\n  the trail records: %s\n  replay finds:      %s\n", div.Thread, div.Line, div.Expected, div.Found)
				if url == "" && strings.Contains(div.Found, "is not in the CAS") {
					fmt.Fprintln(e.stderr, "hint: replay found no blob the trail needs in DATA/cas: the trail of a cluster's host recorded before hosts kept copies of their blobs rests on the cluster's NATS object store (--nats-url of a running server of the cluster)")
				}
				return quietError{}
			case errors.As(err, &tamper):
				fmt.Fprintf(e.stderr, "replay: the trail fails its checks: %v\n", tamper)
				return quietError{}
			}
			return err
		},
	}
	c.Flags().BoolVar(&noRerun, "no-rerun", false, "step the recorded agent outputs and evaluations without running them again (faster; every other check holds)")
	c.Flags().BoolVar(&fromCheckpoint, "from-checkpoint", false, "trust what the trail's last CHECKPOINT covers: step it without re-verifying signatures or re-running agents and capsules")
	c.Flags().BoolVar(&streamed, "streamed", false, "read the trail as the replay goes, in bounded memory (automatic over 256 MiB of trail)")
	return c
}

func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
