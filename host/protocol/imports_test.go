package protocol_test

import (
	"os/exec"
	"strings"
	"testing"
)

// The import rule of DESIGN.md ("the one rule"): host/protocol and
// everything under it depends only on the standard library,
// github.com/canswarm/swarmhost/abi/... and host/protocol/... itself (and
// github.com/gowebpki/jcs, which abi/envelope uses); and the files of the
// core and of its subpackages (route, quorum, plan) import none of the
// standard packages that reach for a clock, randomness, the file system or
// the network. Tests are not checked: they play the shell.
func TestImportRule(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command:", err)
	}
	const module = "github.com/canswarm/swarmhost"
	out, err := exec.Command(goBin, "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", "./...").Output()
	if err != nil {
		t.Fatalf("go list -deps ./...: %v", err)
	}
	deps := strings.Fields(string(out))
	if len(deps) == 0 {
		t.Fatal("go list -deps listed nothing")
	}
	for _, dep := range deps {
		switch {
		case dep == module+"/abi", strings.HasPrefix(dep, module+"/abi/"),
			dep == module+"/host/protocol", strings.HasPrefix(dep, module+"/host/protocol/"),
			dep == "github.com/gowebpki/jcs":
		default:
			t.Errorf("forbidden dependency %s", dep)
		}
	}
	// Every package's own files, the core's and its subpackages'.
	out, err = exec.Command(goBin, "list", "-f", `{{.ImportPath}}{{range .Imports}} {{.}}{{end}}`, "./...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	forbidden := []string{"time", "math/rand", "crypto/rand", "os", "net", "io/fs", "path/filepath", "syscall", "unsafe", "runtime"}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		fields := strings.Fields(line)
		for _, imp := range fields[1:] {
			for _, f := range forbidden {
				if imp == f || strings.HasPrefix(imp, f+"/") {
					t.Errorf("%s imports %s", fields[0], imp)
				}
			}
		}
	}
}
