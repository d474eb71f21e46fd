package audit

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"

	"github.com/canswarm/swarmhost/abi/envelope"
)

// ThreadHead is where one thread's chain ends.
type ThreadHead struct {
	Thread string
	Seq    uint64
	Hash   string // hash of the last line, "" for an empty thread
}

// MerkleRoot is the RFC 6962 Merkle tree hash over the thread heads sorted
// by thread: leaf = SHA-256(0x00 || JCS{"hash","seq","thread"}), node =
// SHA-256(0x01 || left || right), split at the largest power of two below
// n; the empty tree is SHA-256 of nothing. Written "sha256:" + hex.
func MerkleRoot(heads []ThreadHead) string {
	sorted := append([]ThreadHead(nil), heads...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Thread < sorted[j].Thread })
	leaves := make([][32]byte, len(sorted))
	for i, h := range sorted {
		leaves[i] = leafHash(h)
	}
	root := merkle(leaves)
	return envelope.RefPrefix + hex.EncodeToString(root[:])
}

func merkle(leaves [][32]byte) [32]byte {
	switch len(leaves) {
	case 0:
		return sha256.Sum256(nil)
	case 1:
		return leaves[0]
	}
	k := 1
	for k*2 < len(leaves) {
		k *= 2
	}
	l, r := merkle(leaves[:k]), merkle(leaves[k:])
	var node [65]byte
	node[0] = 1
	copy(node[1:], l[:])
	copy(node[33:], r[:])
	return sha256.Sum256(node[:])
}

// Heads reads every thread's head file.
func Heads(dir string) ([]ThreadHead, error) {
	threads, err := Threads(dir)
	if err != nil {
		return nil, err
	}
	heads := make([]ThreadHead, 0, len(threads))
	for _, th := range threads {
		h, err := readHead(dir, th)
		if err != nil {
			return nil, fmt.Errorf("audit head of %s: %w", th, err)
		}
		heads = append(heads, ThreadHead{Thread: th, Seq: h.Seq, Hash: h.Hash})
	}
	return heads, nil
}

// Root is the Merkle root over the trail's heads (under group commit,
// Commit first): those on disk at its first Root, read then (or by
// RecoverThreads, which reads every head anyway), and every head this
// trail wrote since, from its index (a head a crash left behind
// is brought up to date by RecoverThreads, or by the open of its thread,
// through the same path). A head another process writes into the folder
// meanwhile is not seen: a folder has one writer, its node.
func (t *Trail) Root() (string, error) {
	t.indexMu.Lock()
	defer t.indexMu.Unlock()
	if !t.indexLoaded {
		heads, err := Heads(t.dir)
		if err != nil {
			return "", err
		}
		for _, h := range heads {
			// A head set meanwhile was written after the one read here.
			if !t.index.Has(h.Thread) {
				t.index.Set(h.Thread, h.Seq, h.Hash)
			}
		}
		t.indexLoaded = true
	}
	return t.index.Root(), nil
}
