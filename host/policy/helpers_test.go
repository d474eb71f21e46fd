package policy_test

import (
	"bytes"
	"crypto/ed25519"
)

func testKey(n byte) ed25519.PrivateKey { return ed25519.NewKeyFromSeed(bytes.Repeat([]byte{n}, 32)) }
