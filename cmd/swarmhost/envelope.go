package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/canswarm/swarmhost/abi/envelope"
	"github.com/canswarm/swarmhost/host/api"
	"github.com/canswarm/swarmhost/host/bus"
)

func newEnvelopeCmd(e *env) *cobra.Command {
	var (
		keyPath, verb, thread, payloadPath, capability, policy, digest string
		lamport                                                        uint64
		refs                                                           []string
	)
	sign := &cobra.Command{
		Use:   "sign --key FILE --verb VERB --thread ID --lamport N [--payload FILE|-] [--capability REF] [--ref REF]... [--policy REF] [--digest D]",
		Short: "Sign an envelope and print its JCS form",
		Args:  args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			k, err := e.loadKey(keyPath)
			if err != nil {
				return err
			}
			var payload any
			if payloadPath != "" {
				text, err := e.readInput(payloadPath)
				if err != nil {
					return err
				}
				payload = json.RawMessage(text)
			}
			env, err := envelope.Sign(envelope.Draft{
				ThreadID: thread, Verb: envelope.Verb(verb), Lamport: lamport, Capability: capability,
				ContentRefs: refs, PolicyCapsuleHash: policy, PolicyEvalDigest: digest, Payload: payload,
			}, k.Private)
			if err != nil {
				return fmt.Errorf("cannot sign: %w", err)
			}
			fmt.Fprintf(e.stdout, "%s\n", env.Wire())
			return nil
		},
	}
	f := sign.Flags()
	f.StringVar(&keyPath, "key", "", "the signer's key file")
	f.StringVar(&verb, "verb", "", "the verb (NEED, PROPOSE, ...)")
	f.StringVar(&thread, "thread", "", "thread_id: the NEED's id (\"\" for a NEED)")
	f.Uint64Var(&lamport, "lamport", 0, "the sender's Lamport time")
	f.StringVar(&payloadPath, "payload", "", "a file holding the payload JSON object, or - for stdin (default {})")
	f.StringVar(&capability, "capability", "", "ref of the sender's capability token")
	f.StringArrayVar(&refs, "ref", nil, "a content ref (repeatable, in order)")
	f.StringVar(&policy, "policy", "", "policy_capsule_hash")
	f.StringVar(&digest, "digest", "", "policy_eval_digest")
	for _, name := range []string{"key", "verb", "lamport"} {
		sign.MarkFlagRequired(name)
	}

	verify := &cobra.Command{
		Use:   "verify [FILE|-]",
		Short: "Check an envelope: prints 'ok <id>' or exits 1 with 'invalid: <code>: <detail>'",
		Args:  args(cobra.MaximumNArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			env, err := e.readEnvelope(a)
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "ok %s\n", env.ID)
			return nil
		},
	}
	publish := &cobra.Command{
		Use:   "publish [FILE|-]",
		Short: "Publish a signed envelope on the swarm's bus (--nats-url, or the node on --data): prints 'published <id>' or 'duplicate <id>'",
		Long: `Publish a signed envelope (envelope sign writes one) on the swarm's bus, as any
participant does: the nodes take it from there and record it, accepted or
rejected with its reason, in their audit trails. The bus is the NATS server
--nats-url names, or the embedded one of the node running on --data. The
envelope is verified first (an invalid one is not sent: exit 1 with why);
whether it is authorised and in time is the nodes' to judge. An envelope
already on the stream (the same id, within its dedup window) is a duplicate
and stored once.`,
		Args: args(cobra.MaximumNArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			env, err := e.readEnvelope(a)
			if err != nil {
				return err
			}
			url := e.natsURL
			if url == "" {
				rf, err := api.ReadRunFile(e.dataDir)
				if err != nil {
					return err
				}
				if url = rf.NATSURL; url == "" {
					return fmt.Errorf("the node on %s uses an external NATS server: name it with --nats-url", e.dataDir)
				}
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			secret, err := e.busSecret()
			if err != nil {
				return err
			}
			tlsConfig, err := e.natsTLS(e.dataDir, e.natsURL == "")
			if err != nil {
				return err
			}
			b, err := bus.Join(ctx, url, secret, tlsConfig)
			if err != nil {
				return fmt.Errorf("%w%s", err, secretHint(err, secret))
			}
			defer b.Close()
			ack, err := b.Publish(ctx, env)
			if err != nil {
				return err
			}
			if ack.Duplicate {
				fmt.Fprintf(e.stdout, "duplicate %s\n", env.ID)
			} else {
				fmt.Fprintf(e.stdout, "published %s\n", env.ID)
			}
			return nil
		},
	}
	return group("envelope", "Sign, verify and publish envelopes", sign, verify, publish)
}

// readEnvelope reads the envelope a command names (a file, or stdin when
// none or "-") and verifies it; one that does not verify is reported on
// stdout ("invalid: <code>: <detail>") and answered quietError.
func (e *env) readEnvelope(a []string) (*envelope.Envelope, error) {
	path := "-"
	if len(a) == 1 {
		path = a[0]
	}
	text, err := e.readInput(path)
	if err != nil {
		return nil, err
	}
	env, err := envelope.Verify(text)
	if err != nil {
		var re *envelope.RejectError
		if !errors.As(err, &re) {
			return nil, err
		}
		fmt.Fprintf(e.stdout, "invalid: %v\n", re)
		return nil, quietError{}
	}
	return env, nil
}
