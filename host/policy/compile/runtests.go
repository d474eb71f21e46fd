package compile

import (
	"bufio"
	"cmp"
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/tester"
	"github.com/open-policy-agent/opa/v1/topdown"
)

// Test runs the Rego tests of the policy in dir (the test_ rules of all its
// .rego files, usually kept in *_test.rego) with OPA's tester, under the
// capsule's capabilities, and writes a report to w in the manner of
// `opa test -v`: one PASS / FAIL / ERROR / SKIPPED line per test, in file and
// line order, under it what the test printed, its error, or the expression
// it failed at, then OPA's summary ("PASS: 12/12", "FAIL: 1/13"). An
// erroring test counts as failed. A folder without tests writes "no tests
// were run" and returns 0, 0, nil. err is for a policy that does not compile
// (a *PolicyError, matching ErrInvalidPolicy) or a report that cannot be
// written.
func Test(ctx context.Context, dir string, w io.Writer) (passed, failed int, err error) {
	if w == nil {
		w = io.Discard
	}
	files, err := readSources(dir, true)
	if err != nil {
		return 0, 0, err
	}
	modules := make(map[string]*ast.Module, len(files))
	for _, f := range files {
		modules[f.name] = f.module
	}
	compiler := ast.NewCompiler().
		WithCapabilities(Capabilities()).
		WithEnablePrintStatements(true).
		WithDefaultRegoVersion(ast.RegoV1)
	runner := tester.NewRunner().
		SetCompiler(compiler).
		SetDefaultRegoVersion(ast.RegoV1).
		SetParallel(1).
		EnableTracing(true). // to name the expression a failed test stopped at
		SetModules(modules)
	ch, err := runner.RunTests(ctx, nil)
	if err != nil {
		return 0, 0, policyError(err)
	}
	var results []*tester.Result
	for r := range ch {
		results = append(results, r)
	}
	if len(results) == 0 {
		_, err := fmt.Fprintln(w, "no tests were run")
		return 0, 0, err
	}
	// Results arrive in any order; report them in source order.
	slices.SortStableFunc(results, func(a, b *tester.Result) int {
		return cmp.Or(
			cmp.Compare(locFile(a), locFile(b)),
			cmp.Compare(locRow(a), locRow(b)),
			cmp.Compare(a.Package+"."+a.Name, b.Package+"."+b.Name),
		)
	})
	var skipped, errored int
	for _, r := range results {
		p, f := count(r)
		passed += p
		failed += f
		switch {
		case r.Skip:
			skipped++
		case r.Error != nil:
			errored++
			failed-- // reported on its own line below
		}
	}
	if err := report(w, results, passed, failed, skipped, errored); err != nil {
		return passed, failed + errored, fmt.Errorf("test report: %w", err)
	}
	return passed, failed + errored, nil
}

// report writes one line per test ("file:line: data.pkg.test_x: PASS
// (duration)"), the failing expression under each failure, and OPA's
// summary lines.
func report(w io.Writer, results []*tester.Result, passed, failed, skipped, errored int) error {
	bw := bufio.NewWriter(w)
	for _, r := range results {
		fmt.Fprintf(bw, "%s:%d: %s.%s: %s", locFile(r), locRow(r), r.Package, r.Name, outcome(r))
		if !r.Skip {
			fmt.Fprintf(bw, " (%v)", r.Duration.Round(time.Microsecond))
		}
		fmt.Fprintln(bw)
		for name, sr := range r.SubResults.Iter {
			if len(sr.SubResults) == 0 {
				fmt.Fprintf(bw, "    %s: %s\n", strings.Join(name, "/"), sr.String())
			}
		}
		if out := strings.TrimSpace(string(r.Output)); out != "" {
			fmt.Fprintf(bw, "    %s\n", strings.ReplaceAll(out, "\n", "\n    "))
		}
		if r.Error != nil {
			fmt.Fprintf(bw, "    %s\n", strings.ReplaceAll(r.Error.Error(), "\n", "\n    "))
		}
		if r.Fail {
			if e := failedAt(r.Trace); e != nil {
				var expr strings.Builder
				if err := topdown.PrettyEvent(&expr, e, topdown.PrettyEventOpts{}); err != nil {
					return err
				}
				fmt.Fprintf(bw, "    failed at %s:%d: %s\n", e.Location.File, e.Location.Row, strings.TrimSpace(expr.String()))
			}
		}
	}
	fmt.Fprintln(bw, strings.Repeat("-", 80))
	total := passed + failed + skipped + errored
	for _, line := range []struct {
		label string
		n     int
	}{{"PASS", passed}, {"FAIL", failed}, {"SKIPPED", skipped}, {"ERROR", errored}} {
		if line.n > 0 {
			fmt.Fprintf(bw, "%s: %d/%d\n", line.label, line.n, total)
		}
	}
	return bw.Flush()
}

// failedAt finds the expression a failed test stopped at, the way OPA's
// reporter does for --var-values: the last failing expression of the test's
// own queries, not an every's own node.
func failedAt(trace []*topdown.Event) *topdown.Event {
	for _, e := range slices.Backward(trace) {
		if e.Op != topdown.FailOp || e.Location == nil || e.QueryID == 0 {
			continue
		}
		if expr, ok := e.Node.(*ast.Expr); ok {
			if _, every := expr.Terms.(*ast.Every); every {
				continue
			}
		}
		return e
	}
	return nil
}

func outcome(r *tester.Result) string {
	switch {
	case r.Skip:
		return "SKIPPED"
	case r.Error != nil:
		return "ERROR"
	case r.Fail:
		return "FAIL"
	}
	return "PASS"
}

// count returns the passed and failed leaf cases of a result, as OPA's
// reporter counts them; an error counts as a failure, a skip as neither.
func count(r *tester.Result) (passed, failed int) {
	switch {
	case r.Skip:
		return 0, 0
	case r.Error != nil:
		return 0, 1
	}
	if len(r.SubResults) > 0 {
		for _, sr := range r.SubResults.Iter {
			if len(sr.SubResults) > 0 {
				continue
			}
			if sr.Fail {
				failed++
			} else {
				passed++
			}
		}
		return passed, failed
	}
	if r.Fail {
		return 0, 1
	}
	return 1, 0
}

func locFile(r *tester.Result) string {
	if r.Location == nil {
		return ""
	}
	return r.Location.File
}

func locRow(r *tester.Result) int {
	if r.Location == nil {
		return 0
	}
	return r.Location.Row
}
