package protocol_test

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// The scripted interaction tests, in the style of etcd raft's datadriven
// tests. A script in testdata/*.txt is a list of commands, one a line, each
// followed by "----" and its golden output, ended by a blank line:
//
//	propose sender=w1 price=5
//	----
//	recv PROPOSE prop1 n1 L2 by w1 {...} -> accepted
//
// Lines starting with # and blank lines between commands are comments. Run
// with -rewrite (go test ./host/protocol -run TestScripts -rewrite) or with
// SWARMHOST_REWRITE=1 to write the current output as the golden output.

var rewrite = flag.Bool("rewrite", false, "rewrite the golden output of host/protocol/testdata/*.txt")

func rewriting() bool { return *rewrite || os.Getenv("SWARMHOST_REWRITE") == "1" }

// scriptCase is one command of a script with its golden output.
type scriptCase struct {
	line int    // the command's line number
	pre  string // the comments and blank lines before it, kept on rewrite
	cmd  string
	want string
}

// parseScript reads a script. trailer is the text after the last case.
func parseScript(text string) (cases []scriptCase, trailer string, err error) {
	lines := strings.Split(text, "\n")
	if n := len(lines); n > 0 && lines[n-1] == "" {
		lines = lines[:n-1]
	}
	var pre strings.Builder
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		if strings.TrimSpace(l) == "" || strings.HasPrefix(l, "#") {
			pre.WriteString(l + "\n")
			continue
		}
		c := scriptCase{line: i + 1, pre: pre.String(), cmd: l}
		pre.Reset()
		if i+1 >= len(lines) || lines[i+1] != "----" {
			return nil, "", fmt.Errorf("line %d: %q is not followed by ----", i+1, l)
		}
		i += 2
		var out []string
		for ; i < len(lines) && lines[i] != ""; i++ {
			out = append(out, lines[i])
		}
		c.want = strings.Join(out, "\n")
		cases = append(cases, c)
	}
	return cases, pre.String(), nil
}

// formatScript writes cases back, with outputs in place of the golden ones.
func formatScript(cases []scriptCase, outputs []string, trailer string) string {
	var b strings.Builder
	for i, c := range cases {
		b.WriteString(c.pre)
		b.WriteString(c.cmd + "\n----\n")
		if outputs[i] != "" {
			b.WriteString(outputs[i] + "\n")
		}
		b.WriteString("\n")
	}
	b.WriteString(trailer)
	return strings.TrimRight(b.String(), "\n") + "\n"
}

func scriptFiles(t *testing.T) []string {
	files, err := filepath.Glob(filepath.Join("testdata", "*.txt"))
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(files)
	if len(files) == 0 {
		t.Fatal("no scripts in testdata/")
	}
	return files
}

func TestScripts(t *testing.T) {
	for _, path := range scriptFiles(t) {
		t.Run(strings.TrimSuffix(filepath.Base(path), ".txt"), func(t *testing.T) {
			runScript(t, path)
		})
	}
}

func runScript(t *testing.T, path string) {
	text, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	cases, trailer, err := parseScript(string(text))
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	h := newHarness(t)
	outputs := make([]string, len(cases))
	for i, c := range cases {
		outputs[i] = c.want
	}
	if rewriting() {
		// Written even when a command fails the test, so that the output up
		// to the failure can be read.
		defer func() {
			if err := os.WriteFile(path, []byte(formatScript(cases, outputs, trailer)), 0o644); err != nil {
				t.Error(err)
			}
		}()
	}
	for i, c := range cases {
		h.pos = fmt.Sprintf("%s:%d", path, c.line)
		got := h.run(c.cmd)
		outputs[i] = got
		if !rewriting() && got != c.want {
			t.Fatalf("%s: %s\nwant:\n%s\ngot:\n%s", h.pos, c.cmd, c.want, got)
		}
	}
}

// TestScriptParser checks the runner's own format handling.
func TestScriptParser(t *testing.T) {
	text := "# a comment\n\ncmd a=1\n----\nline 1\nline 2\n\n# between\ncmd b\n----\n\n# tail\n"
	cases, trailer, err := parseScript(text)
	if err != nil {
		t.Fatal(err)
	}
	if len(cases) != 2 || cases[0].cmd != "cmd a=1" || cases[0].want != "line 1\nline 2" ||
		cases[0].pre != "# a comment\n\n" || cases[1].want != "" || cases[1].pre != "# between\n" || trailer != "# tail\n" {
		t.Fatalf("parsed %+v, trailer %q", cases, trailer)
	}
	if got := formatScript(cases, []string{"line 1\nline 2", ""}, trailer); got != text {
		t.Fatalf("formatted %q, want %q", got, text)
	}
	if _, _, err := parseScript("cmd\nno separator\n"); err == nil {
		t.Fatal("a command without ---- parsed")
	}
}
