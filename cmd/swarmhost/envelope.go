package main

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/canswarm/swarmhost/abi/envelope"
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
			path := "-"
			if len(a) == 1 {
				path = a[0]
			}
			text, err := e.readInput(path)
			if err != nil {
				return err
			}
			env, err := envelope.Verify(text)
			if err != nil {
				var re *envelope.RejectError
				if !errors.As(err, &re) {
					return err
				}
				fmt.Fprintf(e.stdout, "invalid: %v\n", re)
				return quietError{}
			}
			fmt.Fprintf(e.stdout, "ok %s\n", env.ID)
			return nil
		},
	}
	return group("envelope", "Sign and verify envelopes", sign, verify)
}
