package protocol

import (
	"crypto/ed25519"
	"testing"

	"github.com/canswarm/swarmhost/abi/envelope"
)

// Two NEEDs a local agent drafted on two threads at the same Lamport time
// share sender, thread (none yet), verb and time: the one stepped back
// takes its own draft off the list, not the other's, which a start would
// then ask for again.
func TestSteppedBackTellsAlikeNEEDsApart(t *testing.T) {
	key := ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize))
	pk := envelope.EncodePublicKey(key.Public().(ed25519.PublicKey))
	c := &Core{}
	draft := func(thread, nonce string) unsentDraft {
		return unsentDraft{thread: thread, sender: pk, draft: envelope.Draft{Verb: envelope.VerbNeed, Lamport: 7,
			Payload: map[string]any{"capability": "classify", "input": []string{"x"}, "k": 1, "n": 1, "nonce": nonce}}}
	}
	first, second := draft("thread-a", "a"), draft("thread-b", "b")
	c.unsent = []unsentDraft{first, second}
	e, err := envelope.Sign(second.draft, key)
	if err != nil {
		t.Fatal(err)
	}
	if !first.matches(e) || !second.matches(e) {
		t.Fatal("the two drafts are meant to match the same envelope by sender, thread, verb and time")
	}
	c.steppedBack(e)
	if len(c.unsent) != 1 || c.unsent[0].thread != "thread-a" {
		t.Fatalf("after the second NEED came back the list holds %+v, want the first NEED's draft", c.unsent)
	}
	other, err := envelope.Sign(first.draft, key)
	if err != nil {
		t.Fatal(err)
	}
	c.steppedBack(other)
	if len(c.unsent) != 0 {
		t.Fatalf("after both came back the list holds %d drafts", len(c.unsent))
	}
}
