package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/canswarm/swarmhost/internal/atomicfile"
	"github.com/canswarm/swarmhost/internal/dirlock"
)

// RunFileName is the file in a data folder that says where its running
// node serves.
const RunFileName = "node.json"

// LockFileName is the file in a data folder its running node holds a lock
// on (internal/dirlock), for as long as it runs.
const LockFileName = "node.lock"

// SharedCASFileName marks the data folder of a cluster's host (whose CAS is
// the cluster's NATS object store; DATA/cas holds its copies): it stays when
// the node stops, so that a command on the folder of a host that is not
// running does not put blobs in DATA/cas, which no other host reads.
const SharedCASFileName = "cas.shared"

// MarkSharedCAS writes the mark of a cluster host's data folder.
func MarkSharedCAS(dataDir string) error {
	text := "This data folder's node keeps its blobs in its cluster's NATS object store;\n" +
		"cas/ holds its copies of those it put or read. Put blobs through a running\n" +
		"node of the cluster (swarmhost --data DIR cas put) or --nats-url.\n"
	if err := atomicfile.Write(filepath.Join(dataDir, SharedCASFileName), []byte(text), atomicfile.Options{}); err != nil {
		return fmt.Errorf("api: marking the data folder as a cluster host's: %w", err)
	}
	return nil
}

// SharedCASMarked reports whether dataDir is a cluster host's (MarkSharedCAS).
func SharedCASMarked(dataDir string) bool {
	_, err := os.Stat(filepath.Join(dataDir, SharedCASFileName))
	return err == nil
}

// RunFile is the content of data/node.json.
type RunFile struct {
	PID         int    `json:"pid"`
	API         string `json:"api"`                    // base URL, "http://127.0.0.1:port"
	RaftAddress string `json:"raft_address,omitempty"` //
	ReplicaID   uint64 `json:"replica_id,omitempty"`   //
	NATSURL     string `json:"nats_url,omitempty"`     //
	// Capsule is the ref of the policy capsule the node's NEEDs name by
	// default (the classify capsule): a client signing its own NEED
	// names it as policy_capsule_hash.
	Capsule string `json:"capsule,omitempty"`
	// SharedCAS: the node's CAS is its cluster's NATS object store (a
	// node of a cluster, or on an external NATS server); DATA/cas holds
	// its copies of the blobs it put or read there.
	SharedCAS bool `json:"shared_cas,omitempty"`
}

// WriteRunFile writes data/node.json atomically.
func WriteRunFile(dataDir string, rf RunFile) error {
	b, err := json.MarshalIndent(rf, "", " ")
	if err != nil {
		return err
	}
	if err := atomicfile.Write(filepath.Join(dataDir, RunFileName), append(b, '\n'), atomicfile.Options{}); err != nil {
		return fmt.Errorf("api: writing the run file: %w", err)
	}
	return nil
}

// RemoveRunFile removes data/node.json if it names this process.
func RemoveRunFile(dataDir string) {
	path := filepath.Join(dataDir, RunFileName)
	if rf, err := ReadRunFile(dataDir); err == nil && rf.PID == os.Getpid() {
		os.Remove(path)
	}
}

// ErrNoNode says no node has served from a data folder.
var ErrNoNode = errors.New("no running node")

// ReadRunFile reads data/node.json. A run file left by a node that no
// longer runs (it holds no lock on the folder) is an error wrapping
// ErrNoNode, returned with the run file's content.
func ReadRunFile(dataDir string) (RunFile, error) {
	path := filepath.Join(dataDir, RunFileName)
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return RunFile{}, fmt.Errorf("%w for data folder %s (no %s: start one with 'swarmhost --data %s run --plugins DIR')", ErrNoNode, dataDir, RunFileName, dataDir)
	}
	if err != nil {
		return RunFile{}, fmt.Errorf("api: %w", err)
	}
	var rf RunFile
	if err := json.Unmarshal(b, &rf); err != nil || rf.API == "" {
		return RunFile{}, fmt.Errorf("api: %s is not a run file (%v)", path, err)
	}
	// A run file whose node holds no lock on the folder is a crashed
	// node's: its API and NATS addresses may be another process's by now.
	if held, known, err := dirlock.Held(dataDir, LockFileName); err == nil && known && !held {
		return rf, fmt.Errorf("%w on data folder %s: its run file names pid %d, but no process holds the folder's lock (a crash left %s): start the node again with 'swarmhost --data %s run'",
			ErrNoNode, dataDir, rf.PID, RunFileName, dataDir)
	}
	return rf, nil
}
