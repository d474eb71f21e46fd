package host_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/canswarm/swarmhost/host"
)

// DATA/revoked: keys and token refs in file order, each once, comments and
// blank lines skipped; no file is no list; a bad line is named.
func TestReadRevoked(t *testing.T) {
	dir := t.TempDir()
	if list, err := host.ReadRevoked(dir); err != nil || list != nil {
		t.Fatalf("no file: %v, %v", list, err)
	}
	key := strings.Repeat("ab", 32)
	ref := "sha256:" + strings.Repeat("0f", 32)
	write := func(text string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, host.RevokedFileName), []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("# leaked on 2026-11-27\n" + key + "  # the old worker\n\n  " + ref + "\n" + key + "\n")
	list, err := host.ReadRevoked(dir)
	if err != nil || !slices.Equal(list, []string{key, ref}) {
		t.Fatalf("list %v, %v", list, err)
	}
	write(key + "\nsha256:short\n")
	if _, err := host.ReadRevoked(dir); err == nil || !strings.Contains(err.Error(), `line 2: "sha256:short" is neither a public key`) {
		t.Fatalf("a bad line: %v", err)
	}
}
