package plugintest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
)

var (
	once sync.Once
	dir  string
	err  error
)

// Names are the first-party Go plugins.
var Names = []string{"echo", "classifier", "verifier", "planner"}

// Fixtures are misbehaving plugins for tests, in testdata/: a verifier that
// lies about its digest, a worker that never claims, a worker whose bids
// name an epoch that is not open.
var Fixtures = []string{"liar", "staller", "wrongbid"}

// Path returns the .wasm of a first-party plugin, building all of them with
// the standard toolchain (GOOS=wasip1 GOARCH=wasm -buildmode=c-shared) on
// first use. Call Cleanup from TestMain to remove them.
func Path(t testing.TB, name string) string {
	t.Helper()
	once.Do(build)
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(dir, name+".wasm")
}

// Cleanup removes the built plugins; a later Path builds them again.
func Cleanup() {
	if dir != "" {
		os.RemoveAll(dir)
	}
	once, dir, err = sync.Once{}, "", nil
}

func build() {
	_, self, _, _ := runtime.Caller(0)
	root := filepath.Join(filepath.Dir(self), "..", "..")
	if dir, err = os.MkdirTemp("", "swarm-plugins-"); err != nil {
		return
	}
	var pkgs []string
	for _, p := range Names {
		pkgs = append(pkgs, "./plugins/"+p)
	}
	for _, p := range Fixtures {
		pkgs = append(pkgs, "./internal/plugintest/testdata/"+p)
	}
	for _, pkg := range pkgs {
		p := filepath.Base(pkg)
		cmd := exec.Command("go", "build", "-trimpath", "-buildmode=c-shared", "-ldflags=-s -w",
			"-o", filepath.Join(dir, p+".wasm"), pkg)
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
		if out, e := cmd.CombinedOutput(); e != nil {
			err = fmt.Errorf("build plugin %s: %v\n%s", p, e, out)
			return
		}
	}
}
