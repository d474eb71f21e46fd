package host

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/canswarm/swarmhost/abi/envelope"
)

// RevokedFileName is the data folder's revocation list: public keys and
// capability token refs this host no longer accepts (protocol.Config.Revoked).
// One per line; '#' starts a comment; blank lines are skipped. The node
// reads it at start and, while it runs, with its plugins folder (every
// Config.PluginsPoll): a change is a recorded reload (protocol.Configure),
// so replay applies it at the same line.
const RevokedFileName = "revoked"

// ReadRevoked reads DATA/revoked: the keys and refs in file order, each
// once; none when there is no file. A line that is neither a public key
// nor a token ref is an error naming the file and line.
func ReadRevoked(dataDir string) ([]string, error) {
	path := filepath.Join(dataDir, RevokedFileName)
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("revocation list: %w", err)
	}
	var list []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line, _, _ := strings.Cut(sc.Text(), "#")
		line = strings.TrimSpace(line)
		switch {
		case line == "":
		case !envelope.IsPublicKey(line) && !envelope.IsRef(line):
			return nil, fmt.Errorf("revocation list %s line %d: %q is neither a public key (64 hex digits) nor a token ref (sha256:<64 hex digits>)", path, n, line)
		case !slices.Contains(list, line):
			list = append(list, line)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("revocation list %s: %w", path, err)
	}
	return list, nil
}

// rescanRevoked reads the revocation list again and reports whether it
// changed (the next Configure carries it). On an error the list in force
// stays.
func (h *Host) rescanRevoked() (changed bool, err error) {
	list, err := ReadRevoked(h.cfg.DataDir)
	if err != nil {
		return false, err
	}
	h.revokedMu.Lock()
	defer h.revokedMu.Unlock()
	if slices.Equal(list, h.revoked) {
		return false, nil
	}
	h.revoked = list
	return true, nil
}

// Revoked is the revocation list in force (DATA/revoked as last read).
func (h *Host) Revoked() []string { return h.revokedNow() }

// revokedNow is the revocation list in force, for a Configure.
func (h *Host) revokedNow() []string {
	h.revokedMu.Lock()
	defer h.revokedMu.Unlock()
	return slices.Clone(h.revoked)
}
