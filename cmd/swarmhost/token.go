package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/canswarm/swarmhost/abi/envelope"
	"github.com/canswarm/swarmhost/host/cas"
	"github.com/canswarm/swarmhost/host/keys"
)

// newTokenCmd issues and shows capability tokens (PROTOCOL.md section 4):
// what a participant outside the node (an agent or a client of another
// implementation, on the bus) needs for its envelopes to be authorised.
func newTokenCmd(e *env) *cobra.Command {
	var (
		keyPath, subject, roles, capabilities string
		notAfter                              uint64
	)
	issue := &cobra.Command{
		Use:   "issue --subject PK --roles R[,R...] [--capabilities KIND,...] [--not-after L] [--key FILE]",
		Short: "Issue a capability token with a root key, put it in the CAS and print its ref",
		Long: `Issue a capability token (PROTOCOL.md section 4) granting the subject key the
roles (client, planner, worker, verifier, host) for the task kinds, up to the
Lamport time --not-after (0: no limit), signed by --key: by default the root
key of the node on --data (DATA/keys/root.json), whose tokens that node and
every node that --trust-s its public key accept. The token goes in the CAS
receivers look it up in: DATA/cas, the store of a node on its own embedded
NATS server; with --nats-url, the NATS object store the nodes of a cluster
(or of an external NATS server) share; its ref is what the subject's envelopes name as "capability"
(envelope sign --capability REF).`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if keyPath == "" {
				keyPath = e.path("keys", "root.json")
			}
			issuer, err := e.loadKey(keyPath)
			if err != nil {
				return err
			}
			pk, err := envelope.DecodePublicKey(subject)
			if err != nil {
				return usageError{fmt.Errorf("--subject %q: %w", subject, err)}
			}
			var rs []envelope.Role
			for _, r := range splitList(roles) {
				if !envelope.Role(r).Known() {
					return usageError{fmt.Errorf("--roles: %q is not a role (client, planner, worker, verifier, host)", r)}
				}
				rs = append(rs, envelope.Role(r))
			}
			if len(rs) == 0 {
				return usageError{errors.New("--roles: name at least one role")}
			}
			return e.withCAS(context.Background(), func(s cas.Store) error {
				_, ref, err := keys.IssueAndStore(context.Background(), s, issuer, pk, rs, splitList(capabilities), notAfter)
				if err != nil {
					return err
				}
				fmt.Fprintln(e.stdout, ref)
				return nil
			})
		},
	}
	f := issue.Flags()
	f.StringVar(&keyPath, "key", "", "the issuer's key file (default: DATA/keys/root.json, the node's root key)")
	f.StringVar(&subject, "subject", "", "the public key the token is for (keys gen prints one)")
	f.StringVar(&roles, "roles", "", "comma-separated roles: client, planner, worker, verifier, host")
	f.StringVar(&capabilities, "capabilities", "", "comma-separated task kinds (e.g. classify)")
	f.Uint64Var(&notAfter, "not-after", 0, "the last Lamport time the token is good for (0: no limit)")
	issue.MarkFlagRequired("subject")
	issue.MarkFlagRequired("roles")

	show := &cobra.Command{
		Use:   "show REF",
		Short: "Print a capability token from the CAS, and whether its signature holds",
		Args:  args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			if !envelope.IsRef(a[0]) {
				return usageError{fmt.Errorf("REF %q: want sha256:<64 hex>", a[0])}
			}
			return e.withCAS(context.Background(), func(s cas.Store) error {
				text, err := s.Get(context.Background(), a[0])
				if err != nil {
					return err
				}
				tok, err := envelope.ParseToken(text)
				if err != nil {
					return fmt.Errorf("%s is not a capability token: %w", a[0], err)
				}
				roles := make([]string, len(tok.Roles))
				for i, r := range tok.Roles {
					roles[i] = string(r)
				}
				fmt.Fprintf(e.stdout, "issuer %s\nsubject %s\nroles %s\ncapabilities %s\nnot_after %d\n", tok.IssuerPK, tok.SubjectPK,
					strings.Join(roles, ","), strings.Join(tok.Capabilities, ","), tok.NotAfter)
				if err := tok.VerifySignature(); err != nil {
					fmt.Fprintf(e.stdout, "signature: invalid: %v\n", err)
					return quietError{}
				}
				fmt.Fprintln(e.stdout, "signature: ok")
				return nil
			})
		},
	}
	return group("token", "Issue and show capability tokens", issue, show)
}
