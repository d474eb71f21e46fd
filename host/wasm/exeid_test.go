package wasm

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// goBuildID reads the build ID the Go linker wrote, the one `go tool
// buildid` prints, and nothing from a file that is not an ELF executable.
func TestGoBuildIDIsTheLinkers(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skipf("the build ID is read from ELF executables; this is %s (the cache then hashes the executable)", runtime.GOOS)
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("go", "tool", "buildid", exe).Output()
	if err != nil {
		t.Fatalf("go tool buildid: %v", err)
	}
	want := strings.TrimSpace(string(out))
	if got := goBuildID(exe); got != want || got == "" {
		t.Fatalf("goBuildID = %q, go tool buildid says %q", got, want)
	}
	other := filepath.Join(t.TempDir(), "not-elf")
	os.WriteFile(other, []byte("#!/bin/sh\necho hello\n"), 0o755)
	if got := goBuildID(other); got != "" {
		t.Fatalf("goBuildID of a shell script = %q, want none", got)
	}
}
