package demo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/canswarm/swarmhost/host"
	"github.com/canswarm/swarmhost/host/api"
	"github.com/canswarm/swarmhost/host/audit"
	"github.com/canswarm/swarmhost/host/protocol"
	"github.com/canswarm/swarmhost/host/replay"
)

// Items are the built-in texts the demo classifies.
var Items = []string{
	"I was charged twice for my subscription this month",
	"Where is my parcel? The tracking has not moved in a week",
	"Thank you, the support team was wonderful",
	"The product broke after two days, this is unacceptable",
	"Can I get a refund on the last invoice?",
	"My package arrived at the wrong address",
	"Great service, I love it",
	"Is the shop open on Sundays?",
	"The delivery driver was rude and the box was damaged",
	"Please update the billing address on my account",
}

// Plugins are the demo's agents: file name in the node's plugins folder ->
// the first-party plugin it is a copy of.
var Plugins = map[string]string{
	"classifier-a.wasm": "classifier", "classifier-b.wasm": "classifier",
	"verifier-a.wasm": "verifier", "verifier-b.wasm": "verifier", "verifier-c.wasm": "verifier",
	"planner.wasm": "planner",
}

// Options configure a run.
type Options struct {
	DataDir    string    // the node's data folder (created if missing)
	PluginsSrc string    // where the built first-party plugins are (name.wasm)
	Items      []string  // the texts to classify; nil: Items
	Out        io.Writer // where the steps are written
	Timeout    time.Duration
}

// Result is what the run observed.
type Result struct {
	Need   string
	Thread protocol.ThreadInfo
	Labels []string
	Report *audit.Report
	Replay *replay.Report
}

// The classify capsule's bounds on an inline input (policies/classify:
// max_texts and max_text_chars, counted in characters as Rego's count
// does); it bounds none on an input in the CAS.
const (
	MaxInlineTexts     = 100
	MaxInlineTextChars = 1000
)

// FitsInline reports whether the classify capsule admits items inline in
// the NEED; other items go in the CAS, so that any file's items are
// classified.
func FitsInline(items []string) bool {
	if len(items) > MaxInlineTexts {
		return false
	}
	for _, it := range items {
		if utf8.RuneCountInString(it) > MaxInlineTextChars {
			return false
		}
	}
	return true
}

// Run performs the demonstration. See the package documentation.
func Run(ctx context.Context, opts Options) (*Result, error) {
	out := opts.Out
	if out == nil {
		out = io.Discard
	}
	items := opts.Items
	if items == nil {
		items = Items
	}
	if len(items) == 0 {
		return nil, errors.New("demo: no items to classify")
	}
	if opts.Timeout == 0 {
		opts.Timeout = 2 * time.Minute
	}
	if err := installPlugins(opts.PluginsSrc, filepath.Join(opts.DataDir, "plugins")); err != nil {
		return nil, err
	}
	var mu sync.Mutex
	start := time.Now()
	cfg := host.Config{DataDir: opts.DataDir, Events: func(ev host.Event) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(out, "  %6.3fs  %s\n", time.Since(start).Seconds(), ev.Text)
	}}
	h, err := host.Open(ctx, cfg)
	if err != nil {
		return nil, err
	}
	closed := false
	defer func() {
		if !closed {
			h.Close()
		}
	}()
	fmt.Fprintf(out, "- node up: host %s, capsule %s\n", short(h.HostPK()), short(h.DefaultCapsule()))
	for file, pk := range h.AgentKeys() {
		_ = pk
		fmt.Fprintf(out, "- agent %s (%s)\n", file, short(pk))
	}
	input, _ := json.Marshal(items)
	inline := FitsInline(items)
	id, err := h.Submit(ctx, api.NeedRequest{Capability: "classify", Input: input, InputInCAS: !inline,
		K: 3, N: 3, BidWindowMS: 1000, LeaseMS: 10_000, MaxEpochs: 3, DeadlineMS: 120_000, Nonce: fmt.Sprint(time.Now().UnixNano())})
	if err != nil {
		return nil, fmt.Errorf("demo: submitting the NEED: %w", err)
	}
	where := ""
	if !inline {
		where = fmt.Sprintf(" (in the CAS: the capsule admits up to %d texts of %d characters inline)", MaxInlineTexts, MaxInlineTextChars)
	}
	fmt.Fprintf(out, "- NEED %s submitted: classify %d items%s, k=3 of n=3 verifiers\n", short(id), len(items), where)
	wctx, cancel := context.WithTimeout(ctx, opts.Timeout)
	defer cancel()
	info, err := h.Wait(wctx, id)
	if err != nil {
		return nil, fmt.Errorf("demo: waiting for NEED %s: %w (state %s)", id, err, info.Phase)
	}
	res := &Result{Need: id, Thread: info}
	if info.Phase != protocol.PhaseFinal {
		return res, fmt.Errorf("demo: the NEED ended %s: %s%s", info.Phase, info.Refusal, info.Abandoned)
	}
	blob, err := h.CAS.Get(ctx, info.Result)
	if err != nil {
		return res, fmt.Errorf("demo: reading the result %s: %w", info.Result, err)
	}
	var r struct {
		Labels []string `json:"labels"`
	}
	if err := json.Unmarshal(blob, &r); err != nil || len(r.Labels) != len(items) {
		return res, fmt.Errorf("demo: the result %s has %d labels for %d items (%v)", info.Result, len(r.Labels), len(items), err)
	}
	res.Labels = r.Labels
	fmt.Fprintf(out, "- FINALIZE %s: result %s on %d attestations\n", short(info.Finalize), short(info.Result), len(info.Attestation))
	for i, it := range items {
		fmt.Fprintf(out, "  %-10s %s\n", r.Labels[i], oneLine(it))
	}
	time.Sleep(200 * time.Millisecond) // let the planner's last UPDATE_PLAN land
	h.Close()
	closed = true
	rep, err := audit.Verify(filepath.Join(opts.DataDir, "audit"))
	if err != nil {
		return res, fmt.Errorf("demo: the audit trail does not verify: %w", err)
	}
	res.Report = rep
	fmt.Fprintf(out, "- audit: ok: %d threads, %d records\n", rep.Threads, rep.Records)
	fmt.Fprintf(out, "- replaying the trail through the rules:\n")
	if res.Replay, err = replay.Run(ctx, replay.Options{DataDir: opts.DataDir, Out: out}); err != nil {
		return res, err
	}
	return res, nil
}

func installPlugins(src, dst string) error {
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return err
	}
	for file, name := range Plugins {
		b, err := os.ReadFile(filepath.Join(src, name+".wasm"))
		if err != nil {
			return fmt.Errorf("demo: the first-party plugin %s is not built (run 'make plugins'): %w", name, err)
		}
		if err := os.WriteFile(filepath.Join(dst, file), b, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// oneLine is an item as one line of the label list: its text as it is,
// but for runes that are not printable (a newline, a tab, a line or
// paragraph separator, a direction override), written as Go escapes, and
// an item longer than shownRunes cut there, with its length.
func oneLine(item string) string {
	printable := func(r rune) bool { return strconv.IsPrint(r) }
	n := utf8.RuneCountInString(item)
	if n <= shownRunes && !strings.ContainsFunc(item, func(r rune) bool { return !printable(r) }) {
		return item
	}
	var b strings.Builder
	shown := 0
	for _, r := range item {
		if shown == shownRunes {
			fmt.Fprintf(&b, "... (%d characters)", n)
			break
		}
		shown++
		if printable(r) {
			b.WriteRune(r)
			continue
		}
		q := strconv.QuoteRune(r)
		b.WriteString(q[1 : len(q)-1])
	}
	return b.String()
}

// shownRunes is how much of an item the label list shows.
const shownRunes = 100

func short(id string) string {
	if len(id) > 15 && id[:7] == "sha256:" {
		return id[7:15]
	}
	if len(id) > 8 {
		return id[:8]
	}
	return id
}
