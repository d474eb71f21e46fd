package shard

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"slices"
	"strconv"
)

// SnapshotVersion is the snapshot format Save writes and Load reads.
const SnapshotVersion = 1

const snapshotMagic = "canswarm-shard-snapshot "

// ErrSnapshotVersion is wrapped by Load's error for a snapshot of another
// version.
var ErrSnapshotVersion = errors.New("unsupported snapshot version")

// The snapshot, version 1, is lines of text, each ending in "\n":
//
//	canswarm-shard-snapshot 1
//	{"collected":C,"last_index":N,"needs":M}
//	M lines, one tracked NEED each, in ascending order of NEED id (needLine)
//	C lines, one collected NEED id each as a JSON string, ascending
//	sha256:<64 hex digits>, the SHA-256 of every byte before this line
//
// Every JSON line is canonical (sorted keys, no whitespace), so the same
// state always gives the same bytes, and Load accepts only canonical lines:
// a snapshot Load accepts is exactly what Save writes for the state loaded.

type metaLine struct {
	Collected uint64 `json:"collected"`
	LastIndex uint64 `json:"last_index"`
	Needs     uint64 `json:"needs"`
}

type needLine struct {
	Abandoned  bool            `json:"abandoned"`
	Epochs     []epochLine     `json:"epochs"`
	Finalize   json.RawMessage `json:"finalize"` // the FINALIZE command, or null
	FinishedAt uint64          `json:"finished_at"`
	Need       string          `json:"need"`
}

type epochLine struct {
	Decide  json.RawMessage `json:"decide"` // the DECIDE command, or null
	Fence   uint64          `json:"fence"`
	Release json.RawMessage `json:"release"` // the RELEASE command, or null
}

var null = json.RawMessage("null")

func encoded(c Command, isNil bool) json.RawMessage {
	if isNil {
		return null
	}
	return c.Encode()
}

// encodeNeed returns the snapshot line of a NEED, without "\n".
func encodeNeed(n *needState) []byte {
	nl := needLine{Abandoned: n.abandoned, Finalize: encoded(n.final, n.final == nil),
		FinishedAt: n.finishedAt, Need: n.id}
	for _, es := range n.epochs {
		nl.Epochs = append(nl.Epochs, epochLine{encoded(es.decide, es.decide == nil), es.fence,
			encoded(es.release, es.release == nil)})
	}
	return marshal(nl)
}

// Save writes the shard's state to w in the format above.
func (m *Machine) Save(w io.Writer) error {
	m.mu.RLock()
	defer m.mu.RUnlock()
	bw := bufio.NewWriter(w)
	h := sha256.New()
	out := io.MultiWriter(bw, h)
	line := func(b []byte) { out.Write(append(b, '\n')) }
	line([]byte(snapshotMagic + strconv.Itoa(SnapshotVersion)))
	line(marshal(metaLine{uint64(len(m.collected)), m.last, uint64(len(m.needs))}))
	ids := make([]string, 0, len(m.needs))
	for id := range m.needs {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		line(encodeNeed(m.needs[id]))
	}
	keys := make([]string, 0, len(m.collected))
	for k := range m.collected {
		keys = append(keys, "sha256:"+hex.EncodeToString(k[:]))
	}
	slices.Sort(keys)
	for _, k := range keys {
		line(marshal(k))
	}
	bw.WriteString("sha256:" + hex.EncodeToString(h.Sum(nil)) + "\n")
	return bw.Flush() // bufio keeps the first write error
}

// Load replaces the shard's state with a snapshot written by Save. It checks
// the whole snapshot before changing anything (format, checksum, canonical
// lines, and the invariants of the rules: one DECIDE per epoch, fences
// increasing and unique, every past epoch released, FINALIZE only on a
// decided last epoch, ...): on error the state is unchanged. A snapshot of
// another version is refused with an error wrapping ErrSnapshotVersion.
func (m *Machine) Load(r io.Reader) error {
	fresh := New()
	if err := fresh.read(r); err != nil {
		return fmt.Errorf("shard: loading a snapshot: %w", err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.last, m.needs, m.collected, m.counts = fresh.last, fresh.needs, fresh.collected, fresh.counts
	return nil
}

type lineReader struct {
	br *bufio.Reader
	h  hash.Hash
}

// next returns the next line without its "\n", hashing it.
func (lr *lineReader) next(what string) ([]byte, error) {
	b, err := lr.br.ReadBytes('\n')
	if err != nil {
		if err == io.EOF {
			return nil, fmt.Errorf("truncated before the %s", what)
		}
		return nil, err
	}
	lr.h.Write(b)
	return b[:len(b)-1], nil
}

// read fills an empty machine from a snapshot.
func (m *Machine) read(r io.Reader) error {
	lr := &lineReader{br: bufio.NewReader(r), h: sha256.New()}
	head, err := lr.next("header")
	if err != nil {
		return err
	}
	v, ok := bytes.CutPrefix(head, []byte(snapshotMagic))
	if !ok {
		return errors.New("not a shard snapshot (no header line)")
	}
	if string(v) != strconv.Itoa(SnapshotVersion) {
		return fmt.Errorf("%w: the snapshot is version %.20q, this build reads version %d",
			ErrSnapshotVersion, v, SnapshotVersion)
	}
	b, err := lr.next("counts")
	if err != nil {
		return err
	}
	var meta metaLine
	if err := strict(b, &meta); err != nil {
		return fmt.Errorf("counts line: %w", err)
	}
	if !bytes.Equal(marshal(meta), b) {
		return errors.New("counts line is not canonical")
	}
	m.last = meta.LastIndex
	fences := map[uint64]bool{}
	prev := ""
	for i := uint64(0); i < meta.Needs; i++ {
		if b, err = lr.next("NEEDs"); err != nil {
			return err
		}
		var nl needLine
		if err := strict(b, &nl); err != nil {
			return fmt.Errorf("NEED %d: %w", i, err)
		}
		if nl.Need <= prev {
			return fmt.Errorf("NEED %d: ids not in ascending order", i)
		}
		prev = nl.Need
		n, err := m.restore(&nl, fences)
		if err != nil {
			return fmt.Errorf("NEED %s: %w", nl.Need, err)
		}
		if !bytes.Equal(encodeNeed(n), b) {
			return fmt.Errorf("NEED %s: line is not canonical", n.id)
		}
		m.needs[n.id] = n
	}
	prev = ""
	for i := uint64(0); i < meta.Collected; i++ {
		if b, err = lr.next("collected NEEDs"); err != nil {
			return err
		}
		var id string
		if err := strict(b, &id); err != nil {
			return fmt.Errorf("collected NEED %d: %w", i, err)
		}
		if _, ok := BucketOf(id); !ok || id <= prev || m.needs[id] != nil || !bytes.Equal(marshal(id), b) {
			return fmt.Errorf("collected NEED %d: not a ref, out of order, or also tracked", i)
		}
		prev = id
		m.collected[needKey(id)] = struct{}{}
	}
	sum := "sha256:" + hex.EncodeToString(lr.h.Sum(nil)) + "\n"
	trailer, err := lr.br.ReadString('\n')
	if err != nil && err != io.EOF {
		return err
	}
	if trailer != sum {
		return errors.New("checksum line missing or wrong")
	}
	if _, err := lr.br.ReadByte(); err != io.EOF {
		return errors.New("data after the checksum line")
	}
	return nil
}

// strict decodes one JSON value, refusing unknown keys and trailing data.
func strict(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("trailing data")
	}
	return nil
}
