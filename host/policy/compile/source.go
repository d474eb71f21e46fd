package compile

import (
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
)

// Limits on a policy folder: a capsule is small, and a folder that is not
// must not make the builder read without bound.
const (
	maxSourceBytes = 1 << 20 // one .rego file
	maxSourceTotal = 8 << 20 // all of them
	maxSourceFiles = 256
)

// sourceFile is one .rego file of a policy folder.
type sourceFile struct {
	name   string // file name, relative to the folder; used in every message
	text   []byte
	module *ast.Module
	test   bool // a *_test.rego file: run by Test, never in the capsule
}

// readSources reads and parses the .rego files of dir (not its subfolders),
// in name order, the *_test.rego ones only with tests (a build leaves them
// unread: a test file that does not parse holds back `policy test`, not the
// capsule). Folders are read, never walked: a capsule's sources are exactly
// the folder's *.rego files, and a subfolder holding .rego files is an
// error rather than sources silently left out (opa build would take them).
func readSources(dir string, tests bool) ([]*sourceFile, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidPolicy, err)
	}
	var (
		files []*sourceFile
		total int
		errs  []error
	)
	for _, e := range entries { // os.ReadDir sorts by name
		name := e.Name()
		switch {
		case name == "data.json" || name == "data.yaml" || name == "data.yml":
			errs = append(errs, fmt.Errorf("%s: a capsule carries no data documents: put constants in Rego", name))
			continue
		case e.IsDir():
			if sub, _ := filepath.Glob(filepath.Join(dir, name, "*.rego")); len(sub) > 0 {
				errs = append(errs, fmt.Errorf("%s/: a capsule is one folder's .rego files, and this subfolder holds %d: "+
					"move them up (a package of their own, swarm.%s say, imported where used)", name, len(sub), name))
			}
			continue
		case !strings.HasSuffix(name, ".rego"):
			continue
		case !tests && strings.HasSuffix(name, "_test.rego"):
			continue
		}
		if !sourceName.MatchString(name) {
			errs = append(errs, fmt.Errorf("%.100q: policy file names are letters, digits, '.', '_' and '-', ending in .rego", name))
			continue
		}
		if len(files) == maxSourceFiles {
			return nil, fmt.Errorf("%w: more than %d .rego files in %s", ErrInvalidPolicy, maxSourceFiles, dir)
		}
		text, err := readLimited(path.Join(dir, name), maxSourceBytes)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %w", ErrInvalidPolicy, name, err)
		}
		if total += len(text); total > maxSourceTotal {
			return nil, fmt.Errorf("%w: the .rego files of %s are over %d bytes", ErrInvalidPolicy, dir, maxSourceTotal)
		}
		f := &sourceFile{name: name, text: text, test: strings.HasSuffix(name, "_test.rego")}
		f.module, err = ast.ParseModuleWithOpts(name, string(text), parserOptions())
		if err != nil {
			errs = append(errs, astErrors(err)...)
			if looksLikeRegoV0(name, text) {
				errs = append(errs, fmt.Errorf("%s parses as Rego v0 (the syntax before OPA 1.0); capsules are Rego v1: "+
					"'opa fmt --rego-v1 %s' rewrites it (rule bodies take 'if', multi-value rules 'contains')", name, name))
			}
			continue
		}
		files = append(files, f)
	}
	if len(errs) > 0 {
		return nil, joinPolicyErrors(errs)
	}
	return files, nil
}

// looksLikeRegoV0 reports whether a file that is not Rego v1 parses as
// Rego v0: then the error says how to bring it over.
func looksLikeRegoV0(name string, text []byte) bool {
	_, err := ast.ParseModuleWithOpts(name, string(text), ast.ParserOptions{RegoVersion: ast.RegoV0, Capabilities: Capabilities()})
	return err == nil
}

func parserOptions() ast.ParserOptions {
	return ast.ParserOptions{RegoVersion: ast.RegoV1, Capabilities: Capabilities()}
}

// readLimited reads a regular file of at most limit bytes.
func readLimited(name string, limit int64) ([]byte, error) {
	fi, err := os.Stat(name)
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, errors.New("not a regular file")
	}
	if fi.Size() > limit {
		return nil, fmt.Errorf("%d bytes, limit %d", fi.Size(), limit)
	}
	text, err := os.ReadFile(name)
	if err != nil {
		return nil, err
	}
	if int64(len(text)) > limit {
		return nil, fmt.Errorf("grew past %d bytes while read", limit)
	}
	return text, nil
}

// entrypointNames are the rules of package swarm that a capsule exports, in
// the order they are handed to OPA (and so numbered in the wasm).
var entrypointNames = []string{"admit", "bid", "verify", "route"}

// checkPackages checks the capsule's (non-test) modules: each is package
// swarm or a subpackage of it, at least one is package swarm, and the
// entrypoints it defines are rules, not functions. It returns the
// entrypoint paths present ("swarm/admit", ...) in entrypointNames order.
func checkPackages(files []*sourceFile) ([]string, error) {
	var (
		errs    []error
		present = map[string]bool{}
		swarm   bool
	)
	root := ast.MustParseRef("data.swarm")
	for _, f := range files {
		if f.test {
			continue
		}
		pkg := f.module.Package
		path := pkg.Path
		row := pkg.Location.Row
		switch {
		case path.Equal(root):
			swarm = true
		case path.HasPrefix(root):
			// A subpackage named like an entrypoint would make that
			// entrypoint a package (an object), not a rule.
			if s, ok := path[2].Value.(ast.String); ok && slices.Contains(entrypointNames, string(s)) {
				errs = append(errs, fmt.Errorf("%s:%d: package %s: swarm.%s is an entrypoint and must be a rule, not a package",
					f.name, row, packageName(path), string(s)))
			}
			continue
		default:
			errs = append(errs, fmt.Errorf("%s:%d: package %s: a capsule's Rego is package swarm (or a subpackage of it)",
				f.name, row, packageName(path)))
			continue
		}
		for _, r := range f.module.Rules {
			v, ok := r.Head.Ref()[0].Value.(ast.Var)
			name := string(v)
			if !ok || !slices.Contains(entrypointNames, name) {
				continue
			}
			if len(r.Head.Args) > 0 {
				errs = append(errs, fmt.Errorf("%s:%d: %s is a function: an entrypoint must be a rule",
					f.name, r.Location.Row, name))
				continue
			}
			present[name] = true
		}
	}
	if len(errs) > 0 {
		return nil, joinPolicyErrors(errs)
	}
	if !swarm {
		return nil, fmt.Errorf("%w: no .rego file (other than tests) is package swarm", ErrInvalidPolicy)
	}
	var eps []string
	for _, n := range entrypointNames {
		if present[n] {
			eps = append(eps, "swarm/"+n)
		}
	}
	if len(eps) == 0 {
		return nil, fmt.Errorf("%w: package swarm defines none of the entrypoints %s",
			ErrInvalidPolicy, strings.Join(entrypointNames, ", "))
	}
	return eps, nil
}

// packageName renders data.swarm.x as swarm.x.
func packageName(p ast.Ref) string {
	return strings.TrimPrefix(p.String(), "data.")
}
