package quorum_test

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"

	"github.com/canswarm/swarmhost/abi/envelope"
)

var (
	need   = ref("need")
	commit = ref("commit")
	digest = ref("digest")
)

func ref(s string) string { return envelope.HashRef([]byte(s)) }

func pk(i int) string {
	h := sha256.Sum256([]byte(fmt.Sprint("pk ", i)))
	return hex.EncodeToString(h[:])
}

func pks(is ...int) []string {
	out := make([]string, len(is))
	for i, n := range is {
		out[i] = pk(n)
	}
	return out
}
