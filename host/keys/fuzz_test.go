package keys_test

import (
	"bytes"
	"testing"

	"github.com/canswarm/swarmhost/host/keys"
)

// FuzzParseKeyFile: a key file may be anything on disk; Parse never panics,
// and a key it accepts has a public key derived from its seed.
func FuzzParseKeyFile(f *testing.F) {
	k, _ := keys.FromSeed(bytes.Repeat([]byte{7}, 32))
	f.Add([]byte(`{"v":1,"public_key":"` + k.PublicHex() + `","seed":"` + "0707070707070707070707070707070707070707070707070707070707070707" + `"}`))
	f.Add([]byte(`{"v":1}`))
	f.Fuzz(func(t *testing.T, text []byte) {
		k, err := keys.Parse(text)
		if err != nil {
			return
		}
		again, err := keys.FromSeed(k.Private.Seed())
		if err != nil || !again.Public.Equal(k.Public) {
			t.Fatalf("accepted a key whose public half does not derive from its seed")
		}
	})
}
