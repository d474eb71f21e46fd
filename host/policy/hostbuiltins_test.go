package policy_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // the zones below, on a machine without a zone database

	"github.com/canswarm/swarmhost/host/wasm"
)

const hostBuiltinsSrc = `package swarm
admit := count(net.cidr_expand(input.cidr))
route := count(sprintf(input.format, input.args))
verify := time.parse_ns("Jan 2 15:04 MST 2006", input.when)
bid := input.big
`

// time.parse_ns reads a zone abbreviation the same on every host: OPA's
// own gave "PST" the offset it has in the host's local zone, so a capsule
// evaluated (or replayed) in Los Angeles and in UTC gave two results.
func TestTimeParseNSIgnoresTheHostsZone(t *testing.T) {
	p := load(t, wasm.EngineCompiler, hostBuiltinsSrc, "swarm/verify")
	defer func(l *time.Location) { time.Local = l }(time.Local)
	var results []string
	for _, zone := range []string{"UTC", "America/Los_Angeles", "Asia/Tokyo"} {
		loc, err := time.LoadLocation(zone)
		if err != nil {
			t.Fatal(err)
		}
		time.Local = loc
		res, err := p.Eval(context.Background(), "verify", []byte(`{"when":"Jan 1 00:00 PST 2020"}`), 100_000_000)
		if err != nil {
			// A result in nanoseconds is beyond 2^53: the digest refuses
			// it, whatever the zone; the value shows in the message.
			results = append(results, err.Error())
			continue
		}
		results = append(results, string(res.Result))
	}
	for _, r := range results {
		if r != results[0] {
			t.Fatalf("time.parse_ns by the host's zone: %q", results)
		}
	}
	if !strings.Contains(results[0], "1577836800000000000") {
		t.Fatalf("time.parse_ns of PST read as UTC: %q, want 2020-01-01T00:00:00Z in nanoseconds", results[0])
	}
}

// A builtin that would expand a small argument into a result the gas left
// cannot pay for runs out of gas before making it: a /12 is a million
// addresses, 200 verbs of width 999999 two hundred megabytes. Measured by what the process
// allocates meanwhile (without the check, hundreds of megabytes). Small
// ones still answer.
func TestExpandingBuiltinsRunOutOfGasFirst(t *testing.T) {
	p := load(t, wasm.EngineCompiler, hostBuiltinsSrc, "swarm/admit", "swarm/route")
	ctx := context.Background()
	for _, tc := range []struct{ what, entrypoint, input string }{
		{"a /12", "admit", `{"cidr":"10.0.0.0/12"}`},
		{"200 verbs of width 999999", "route", `{"format":"` + strings.Repeat("%0999999d", 200) + `","args":[` + strings.Repeat("1,", 199) + `1]}`},
	} {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		_, err := p.Eval(ctx, tc.entrypoint, []byte(tc.input), 10_000_000)
		runtime.ReadMemStats(&after)
		if f, ok := wasm.AsFault(err); !ok || f.Kind != wasm.FaultOutOfGas {
			t.Errorf("%s: %v, want out of gas", tc.what, err)
		}
		if grew := after.TotalAlloc - before.TotalAlloc; grew > 64<<20 {
			t.Errorf("%s: %d MB allocated before running out of gas", tc.what, grew>>20)
		}
	}
	for entrypoint, want := range map[string]string{"admit": "256", "route": "5"} { // %05d of 1
		res, err := p.Eval(ctx, entrypoint, []byte(`{"cidr":"10.0.0.0/24","format":"%05d","args":[1]}`), 100_000_000)
		if err != nil || string(res.Result) != want {
			t.Errorf("%s of a small argument: %v %v, want %s", entrypoint, res, err, want)
		}
	}
}

// A result holding an integer beyond 2^53 is refused with the reason, not
// as an entrypoint "that needs escaping".
func TestResultBeyondSafeIntegersSaysSo(t *testing.T) {
	p := load(t, wasm.EngineCompiler, hostBuiltinsSrc, "swarm/bid")
	_, err := p.Eval(context.Background(), "bid", []byte(`{"big":9007199254740994}`), 10_000_000)
	if err == nil || !strings.Contains(err.Error(), "the bid result") || !strings.Contains(err.Error(), "beyond +/-2^53") {
		t.Fatalf("a result of 2^53 + 2: %v, want it said it is beyond +/-2^53", err)
	}
}

// A module that calls a builtin no capsule may (one a manifest could not
// list, so not made by policy build) is not served it: the evaluation
// traps naming it, and the request it would have made never leaves.
func TestForbiddenBuiltinIsNotServedWhateverTheManifest(t *testing.T) {
	asked := make(chan struct{}, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		asked <- struct{}{}
	}))
	defer srv.Close()
	src := "package swarm\nadmit := http.send({\"method\": \"get\", \"url\": \"" + srv.URL + "\"}).status_code == 200\n"
	p := load(t, wasm.EngineCompiler, src, "swarm/admit")
	_, err := p.Eval(context.Background(), "admit", []byte(`{}`), 100_000_000)
	if f, ok := wasm.AsFault(err); !ok || f.Kind != wasm.FaultTrap || !strings.Contains(err.Error(), "http.send is not allowed") {
		t.Fatalf("a module calling http.send: %v, want a trap naming it", err)
	}
	select {
	case <-asked:
		t.Fatal("the request left the host")
	default:
	}
}

// An entrypoint is named as PROTOCOL.md section 7 names the rule
// (swarm.admit), as the module does (swarm/admit) or short (admit): the
// same evaluation and digest.
func TestEntrypointSpellings(t *testing.T) {
	p := load(t, wasm.EngineCompiler, hostBuiltinsSrc, "swarm/admit")
	var digests []string
	for _, name := range []string{"admit", "swarm.admit", "swarm/admit"} {
		res, err := p.Eval(context.Background(), name, []byte(`{"cidr":"10.0.0.0/30"}`), 10_000_000)
		if err != nil || string(res.Result) != "4" {
			t.Fatalf("%s: %v %v", name, res, err)
		}
		digests = append(digests, res.Digest)
	}
	if digests[0] != digests[1] || digests[0] != digests[2] {
		t.Fatalf("digests by spelling: %v", digests)
	}
}
