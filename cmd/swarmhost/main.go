package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
)

// Exit statuses.
const (
	exitOK      = 0
	exitInvalid = 1
	exitUsage   = 2
)

func main() { os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)) }

// usageError marks an error as the caller's misuse of the command line.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// quietError is a failure whose one line the command already printed.
type quietError struct{}

func (quietError) Error() string { return "already reported" }

// env is what every subcommand shares: the streams and global flags.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	dataDir        string
	natsURL        string
	busSecretFile  string
	natsTLSDir     string
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	e := &env{stdin: stdin, stdout: stdout, stderr: stderr}
	root := newRoot(e)
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	cmd, err := root.ExecuteC()
	if err == nil {
		return exitOK
	}
	var ue usageError
	var pf pluginFault
	switch {
	case errors.As(err, &pf):
		fmt.Fprintf(stderr, "error: %v\n", pf.f)
		return exitPlugin
	case errors.As(err, &quietError{}):
		return exitInvalid
	case errors.As(err, &ue) || isCobraUsage(err):
		fmt.Fprintf(stderr, "swarmhost: %v\nRun '%s --help' for usage.\n", err, cmd.CommandPath())
		return exitUsage
	default:
		fmt.Fprintf(stderr, "swarmhost: %v\n", err)
		return exitInvalid
	}
}

// isCobraUsage recognises the errors cobra itself raises for a command
// line it cannot parse (unknown command, flag or argument count).
func isCobraUsage(err error) bool {
	msg := err.Error()
	for _, p := range []string{"unknown command", "unknown flag", "unknown shorthand flag", "required flag", "accepts ", "requires at least", "flag needs an argument", "invalid argument"} {
		if strings.Contains(msg, p) {
			return true
		}
	}
	return false
}

func newRoot(e *env) *cobra.Command {
	root := &cobra.Command{
		Use:           "swarmhost",
		Short:         "The CAN Swarm host: signed envelopes, the bus, the store, the audit trail",
		SilenceUsage:  true,
		SilenceErrors: true,
		// A bare "swarmhost" is a usage error, not a silent success.
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usageError{fmt.Errorf("unknown command %q", args[0])}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			cmd.Help()
			return usageError{errors.New("no command given")}
		},
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.PersistentFlags().StringVar(&e.dataDir, "data", "./swarm-data", "the node's data folder")
	root.PersistentFlags().StringVar(&e.natsURL, "nats-url", "", "an external NATS server (default: the embedded one)")
	root.PersistentFlags().StringVar(&e.busSecretFile, "bus-secret", "", "a file holding the bus's shared secret (default DATA/bus.secret when it exists): the node's NATS server takes clients and routes only with it")
	root.PersistentFlags().StringVar(&e.natsTLSDir, "nats-tls", "", "a folder with ca.crt (the CA that signed the NATS server's certificate) and, for a server that asks for a client certificate (a host's with cluster TLS does), host.crt and host.key: the TLS of connections to NATS (default, for the node running on --data, DATA/cluster-tls when it exists)")
	root.AddCommand(
		newKeysCmd(e),
		newTLSCmd(e),
		newEnvelopeCmd(e),
		newCASCmd(e),
		newAuditCmd(e),
		newPluginCmd(e),
		newPolicyCmd(e),
		newDemoCmd(e),
		newRunCmd(e),
		newConsensusCmd(e),
		newNeedCmd(e),
		newTokenCmd(e),
		newReplayCmd(e),
		newVersionCmd(e),
	)
	return root
}

// args wraps a cobra argument rule so that its failure is a usage error.
func args(rule cobra.PositionalArgs) cobra.PositionalArgs {
	return func(cmd *cobra.Command, a []string) error {
		if err := rule(cmd, a); err != nil {
			return usageError{err}
		}
		return nil
	}
}

// group is a command that only holds subcommands; run bare, it is a usage error.
func group(use, short string, subs ...*cobra.Command) *cobra.Command {
	c := &cobra.Command{
		Use:   use,
		Short: short,
		Args: func(cmd *cobra.Command, a []string) error {
			if len(a) > 0 {
				return usageError{fmt.Errorf("unknown command %q for %q", a[0], cmd.CommandPath())}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, _ []string) error {
			return usageError{fmt.Errorf("%s needs a subcommand", cmd.CommandPath())}
		},
	}
	c.AddCommand(subs...)
	return c
}
