package quorum_test

import (
	"os/exec"
	"strings"
	"testing"
)

// The package is pure (DESIGN.md, "the one rule"): its dependencies are the
// standard library, abi/... and jcs only, and it imports nothing that reads
// a clock, draws randomness or does I/O.
func TestImportRule(t *testing.T) {
	const module = "github.com/canswarm/swarmhost/"
	out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	for _, p := range strings.Fields(string(out)) {
		if p != module+"host/protocol/quorum" && !strings.HasPrefix(p, module+"abi/") && p != module+"abi" &&
			p != "github.com/gowebpki/jcs" {
			t.Errorf("forbidden dependency %s", p)
		}
	}
	out, err = exec.Command("go", "list", "-f", `{{join .Imports "\n"}}`, ".").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, p := range strings.Fields(string(out)) {
		for _, bad := range []string{"time", "math/rand", "crypto/rand", "os", "net", "syscall", "unsafe", "io/fs", "path/filepath", "runtime"} {
			if p == bad || strings.HasPrefix(p, bad+"/") {
				t.Errorf("forbidden import %s", p)
			}
		}
	}
}
