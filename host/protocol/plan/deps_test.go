package plan_test

import (
	"os/exec"
	"strings"
	"testing"
)

// The import rule of DESIGN.md: host/protocol/... imports only the standard
// library and abi/... (and jcs, through abi/envelope); and none of the
// standard packages that reach for a clock, randomness or the system.
func TestImportRule(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command:", err)
	}
	const module = "github.com/canswarm/swarmhost"
	out, err := exec.Command(goBin, "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	for _, dep := range strings.Fields(string(out)) {
		switch {
		case dep == module+"/host/protocol/plan",
			dep == module+"/abi", strings.HasPrefix(dep, module+"/abi/"),
			dep == "github.com/gowebpki/jcs", strings.HasPrefix(dep, "github.com/gowebpki/jcs/"):
		default:
			t.Errorf("forbidden dependency %s", dep)
		}
	}
	out, err = exec.Command(goBin, "list", "-f", `{{join .Imports "\n"}}`, ".").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	forbidden := []string{"time", "math/rand", "crypto/rand", "os", "io/fs", "io/ioutil", "net",
		"syscall", "unsafe", "runtime", "path/filepath", "embed", "plugin"}
	for _, imp := range strings.Fields(string(out)) {
		for _, f := range forbidden {
			if imp == f || strings.HasPrefix(imp, f+"/") {
				t.Errorf("forbidden import %s", imp)
			}
		}
	}
}
