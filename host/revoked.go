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
			return nil, fmt.Errorf("revocation list %s line %d: %q is neither a public key (64 lowercase hex digits) nor a token ref (sha256:<64 lowercase hex digits>)", path, n, line)
		case !slices.Contains(list, line):
			list = append(list, line)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("revocation list %s: %w", path, err)
	}
	return list, nil
}

// readRevoked is ReadRevoked, refusing a list that names a trusted root
// (this host's key, or another host's from --trust) or this host's own
// host or client token: the node would refuse what it sends itself, and
// a host's DECIDEs would be refused while its shard commands stand. A
// root is untrusted by leaving --trust, not revoked.
func (h *Host) readRevoked() ([]string, error) {
	list, err := ReadRevoked(h.cfg.DataDir)
	if err != nil {
		return nil, err
	}
	own := map[string]string{h.id.hostToken: "this host's own host token", h.id.clientToken: "this host's own client token"}
	for i, r := range h.roots {
		own[r] = "a trusted root (another host's key: take it off --trust instead)"
		if i == 0 {
			own[r] = "this host's own key"
		}
	}
	for _, k := range list {
		if why, ok := own[k]; ok {
			return nil, fmt.Errorf("revocation list %s names %s, %s: the node would refuse what it sends", filepath.Join(h.cfg.DataDir, RevokedFileName), why, k)
		}
	}
	return list, nil
}

// rescanRevoked reads the revocation list again and reports whether it
// changed (the next Configure carries it). On an error the list in force
// stays.
func (h *Host) rescanRevoked() (changed bool, err error) {
	list, err := h.readRevoked()
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
