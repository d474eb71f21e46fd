package audit

import (
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strconv"

	"github.com/canswarm/swarmhost/abi/envelope"
)

// HeadIndex keeps every thread's head as its Merkle leaf, so that the
// root of a trail with many threads is not read back from a head file
// per thread at each CHECKPOINT (100,000 threads: 1.17 s of the node's
// loop, against 27 ms from the index; BenchmarkRoot). Set records a head;
// Root is MerkleRoot over the heads set so far. The zero value is empty
// and ready; it is not safe for concurrent use.
type HeadIndex struct {
	heads  map[string]*indexedHead
	sorted []string // threads in order, as of the last Root
	added  []string // threads set since the last Root, not in sorted
	stale  []*indexedHead
	buf    [][32]byte
}

// indexedHead is a thread's head and its leaf, hashed at the first Root
// after it was set: a replay sets a head at every line it steps and asks
// for a root only at a checkpoint.
type indexedHead struct {
	thread string
	seq    uint64
	hash   string
	leaf   [32]byte
	stale  bool // leaf is not yet the hash of seq and hash
}

// Set records thread's head: its last line's seq and hash.
func (x *HeadIndex) Set(thread string, seq uint64, hash string) {
	if x.heads == nil {
		x.heads = map[string]*indexedHead{}
	}
	h := x.heads[thread]
	if h == nil {
		h = &indexedHead{thread: thread}
		x.heads[thread] = h
		x.added = append(x.added, thread)
	}
	h.seq, h.hash = seq, hash
	if !h.stale {
		h.stale = true
		x.stale = append(x.stale, h)
	}
}

// Delete forgets thread's head (a thread whose file went).
func (x *HeadIndex) Delete(thread string) {
	h, ok := x.heads[thread]
	if !ok {
		return
	}
	delete(x.heads, thread)
	if h.stale {
		x.stale = slices.DeleteFunc(x.stale, func(s *indexedHead) bool { return s == h })
	}
	if i, ok := slices.BinarySearch(x.sorted, thread); ok {
		x.sorted = slices.Delete(x.sorted, i, i+1)
	}
	x.added = slices.DeleteFunc(x.added, func(th string) bool { return th == thread })
}

// Has reports whether a head of thread was set.
func (x *HeadIndex) Has(thread string) bool {
	_, ok := x.heads[thread]
	return ok
}

// Len is the number of threads with a head.
func (x *HeadIndex) Len() int { return len(x.heads) }

// Root is the Merkle root over every head set (MerkleRoot's tree).
func (x *HeadIndex) Root() string {
	if len(x.added) > 0 {
		slices.Sort(x.added)
		merged := make([]string, 0, len(x.sorted)+len(x.added))
		i, j := 0, 0
		for i < len(x.sorted) || j < len(x.added) {
			if j == len(x.added) || i < len(x.sorted) && x.sorted[i] < x.added[j] {
				merged = append(merged, x.sorted[i])
				i++
			} else {
				merged = append(merged, x.added[j])
				j++
			}
		}
		x.sorted, x.added = merged, nil
	}
	for _, h := range x.stale {
		h.leaf, h.stale = leafHash(ThreadHead{Thread: h.thread, Seq: h.seq, Hash: h.hash}), false
	}
	x.stale = x.stale[:0]
	x.buf = x.buf[:0]
	for _, th := range x.sorted {
		x.buf = append(x.buf, x.heads[th].leaf)
	}
	root := merkle(x.buf)
	return envelope.RefPrefix + hex.EncodeToString(root[:])
}

// leafHash is a head's Merkle leaf: SHA-256(0x00 || JCS{hash, seq,
// thread}). The fields are a ref, an integer and an ASCII name: the
// literal below is their JCS form.
func leafHash(h ThreadHead) [32]byte {
	var stack [256]byte // a leaf of the usual ref and thread id fits
	leaf := stack[:0]
	leaf = append(leaf, 0)
	leaf = append(leaf, `{"hash":"`...)
	leaf = append(leaf, h.Hash...)
	leaf = append(leaf, `","seq":`...)
	leaf = strconv.AppendUint(leaf, h.Seq, 10)
	leaf = append(leaf, `,"thread":"`...)
	leaf = append(leaf, h.Thread...)
	leaf = append(leaf, `"}`...)
	return sha256.Sum256(leaf)
}
