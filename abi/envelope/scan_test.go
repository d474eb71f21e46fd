package envelope_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/gowebpki/jcs"
	"pgregory.net/rapid"

	"github.com/canswarm/swarmhost/abi/envelope"
)

// Decode's fast path (scan.go) must be invisible: it may only say
// "canonical" where jcs.Transform returns the text unchanged, and Decode must
// give the same envelope or the same rejection whichever path it takes.

type fatalfer interface {
	Helper()
	Fatalf(format string, args ...any)
}

// checkFastPathAgrees checks one input against the slow path, the reference.
func checkFastPathAgrees(t fatalfer, in []byte) {
	t.Helper()
	canon, jerr := jcs.Transform(in)
	jcsFixedPoint := jerr == nil && bytes.Equal(canon, in)
	if got := envelope.IsCanonical(in); got != jcsFixedPoint {
		// Canonical means jcs.Transform is the identity; the converse is not
		// needed for correctness, but a miss would be a silent slow path.
		t.Fatalf("IsCanonical %v, but jcs.Transform gives %q, %v for %q", got, canon, jerr, in)
	}

	slow, slowErr := envelope.DecodeSlow(in)

	// The fast path alone, on a buffer the caller then reuses.
	buf := bytes.Clone(in)
	fast, ok := envelope.DecodeFast(buf)
	for i := range buf {
		buf[i] = '#'
	}
	if ok {
		if !jcsFixedPoint {
			t.Fatalf("fast path decoded text that is not canonical: %q", in)
		}
		if slowErr != nil {
			t.Fatalf("fast path accepted what the slow path rejects (%v): %q", slowErr, in)
		}
		sameEnvelope(t, fast, slow)
	}

	got, err := envelope.Decode(in)
	if (err == nil) != (slowErr == nil) {
		t.Fatalf("Decode error %v, slow path error %v, for %q", err, slowErr, in)
	}
	if err != nil {
		if envelope.CodeOf(err) != envelope.CodeOf(slowErr) || err.Error() != slowErr.Error() {
			t.Fatalf("Decode rejects with %q, slow path with %q", err, slowErr)
		}
		return
	}
	sameEnvelope(t, got, slow)
}

func sameEnvelope(t fatalfer, got, want *envelope.Envelope) {
	t.Helper()
	if !bytes.Equal(got.Wire(), want.Wire()) {
		t.Fatalf("Wire() differs:\n%s\n%s", got.Wire(), want.Wire())
	}
	if !reflect.DeepEqual(*got, *want) {
		t.Fatalf("envelopes differ:\n%#v\n%#v", *got, *want)
	}
	if fmt.Sprint(got.Check()) != fmt.Sprint(want.Check()) {
		t.Fatalf("Check differs: %v vs %v", got.Check(), want.Check())
	}
}

func fastPathSeeds(tb testing.TB) [][]byte {
	var seeds [][]byte
	if fh, err := os.Open("testdata/vectors/envelopes.jsonl"); err == nil {
		sc := bufio.NewScanner(fh)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			var c struct{ Envelope string }
			if json.Unmarshal(sc.Bytes(), &c) == nil {
				seeds = append(seeds, []byte(c.Envelope))
			}
		}
		fh.Close()
	}
	seeds = append(seeds, sampleEnvelope(tb).Wire())
	if e, err := envelope.Sign(benchDraft(), testKey(1)); err == nil {
		seeds = append(seeds, e.Wire())
	}
	need, err := envelope.Sign(envelope.Draft{Verb: envelope.VerbNeed, Payload: json.RawMessage(
		`{"a":[1.5,-0.25,1e-30,5e-324,0.000001,true,false,null,{}],"s":"\u001f\n\"\\/é😀","` + "\U0001F600" + `":1,"` + "\ue000" + `":2}`)}, testKey(2))
	if err != nil {
		tb.Fatal(err)
	}
	seeds = append(seeds, need.Wire())
	for _, s := range canonicalCases {
		seeds = append(seeds, []byte(s.text))
	}
	return seeds
}

var canonicalCases = []struct {
	text      string
	canonical bool
}{
	{`{}`, true},
	{`[]`, true},
	{`0`, true},
	{`-1`, true},
	{`123456789012345`, true},
	{`999999999999999`, true},
	{`-999999999999999`, true},
	{`9999999999999999`, false},    // 1e16: JCS writes 10000000000000000
	{`1234567890123456789`, false}, // rounds to ...800
	{`9007199254740992`, true},
	{`1e+30`, true},
	{`1.5`, true},
	{`5e-324`, true},
	{`0.000001`, true},
	{`1e-7`, true},
	{`1e-07`, false},
	{`1E+30`, false},
	{`1e30`, false},
	{`1.0`, false},
	{`-0`, false},
	{`0.0`, false},
	{`01`, false},
	{`1.`, false},
	{`.5`, false},
	{`+1`, false},
	{`1e400`, false},
	{`1e-400`, false},
	{`true`, true},
	{`tru`, false},
	{`truex`, false},
	{`null`, true},
	{`"\u001f\u0000\b\t\n\f\r\"\\"`, true},
	{`"/é` + "\x7f" + `"`, true},
	{`"\u001F"`, false},
	{`"\u000a"`, false},
	{`"\u0041"`, false},
	{`"\/"`, false},
	{`"\ud83d\ude00"`, false},
	{"\"\t\"", false},
	{"\"\xff\"", false},
	{"\"\xed\xa0\x80\"", false}, // an encoded surrogate
	{`"abc`, false},
	{` {}`, false},
	{`{} `, false},
	{`{"a":1 }`, false},
	{`{"a":1,"b":2}`, true},
	{`{"b":1,"a":2}`, false},
	{`{"a":1,"a":1}`, false},
	{`{"a":1,}`, false},
	{`[1,]`, false},
	{`[,1]`, false},
	{`{"a"}`, false},
	{`{"a":1}x`, false},
	{`{"":0,"\u0000":1,"\n":2,"\r":3,"1":4,"a":5,"aa":6,"b":7}`, true},
	// RFC 8785 section 3.2.3: UTF-16 order puts U+1F600 (a surrogate pair)
	// after U+20AC but before U+FB33.
	{"{\"\\r\":\"Carriage Return\",\"1\":\"One\",\"\u0080\":\"Control\",\"\u00f6\":\"Latin Small Letter O With Diaeresis\",\"\u20ac\":\"Euro Sign\",\"\U0001F600\":\"Emoji: Grinning Face\",\"\ufb33\":\"Hebrew Letter Dalet With Dagesh\"}", true},
	{"{\"\ufb33\":1,\"\U0001F600\":2}", false},
	{"{\"\U0001F600\":1,\"\U0001F601\":2}", true},
	{strings.Repeat("[", 10000) + strings.Repeat("]", 10000), true},
	{strings.Repeat("[", 10001) + strings.Repeat("]", 10001), false},
}

func TestIsCanonical(t *testing.T) {
	for _, c := range canonicalCases {
		name := c.text
		if len(name) > 40 {
			name = name[:40]
		}
		t.Run(name, func(t *testing.T) {
			if got := envelope.IsCanonical([]byte(c.text)); got != c.canonical {
				t.Fatalf("IsCanonical %v, want %v", got, c.canonical)
			}
			checkFastPathAgrees(t, []byte(c.text))
		})
	}
}

func TestDecodeFastPathSeeds(t *testing.T) {
	for _, s := range fastPathSeeds(t) {
		checkFastPathAgrees(t, s)
	}
}

// Exhaustively over small inputs, IsCanonical agrees with jcs.Transform on
// every escape, every one- and two-byte string body, every BMP character,
// short numbers and the order of keys: the corners a fuzzer is slow to find.
func TestIsCanonicalSmallInputs(t *testing.T) {
	agree := func(text string) {
		t.Helper()
		canon, err := jcs.Transform([]byte(text))
		if want := err == nil && string(canon) == text; envelope.IsCanonical([]byte(text)) != want {
			t.Fatalf("IsCanonical(%q) = %v; jcs.Transform gives %q, %v", text, !want, canon, err)
		}
	}
	for v := 0; v <= 0xffff; v++ {
		agree(fmt.Sprintf(`"\u%04x"`, v))
		agree(fmt.Sprintf(`"\u%04X"`, v))
		agree(`"` + string(rune(v)) + `"`)
	}
	for b := 0; b < 256; b++ {
		agree(`"\` + string(byte(b)) + `"`)
		for c := 0; c < 256; c++ {
			agree(`"` + string([]byte{byte(b), byte(c)}) + `"`)
		}
	}
	for _, r := range []rune{0xffff, 0x10000, 0x1f600, 0x10ffff} {
		agree(`"` + string(r) + `"`)
	}
	const numberBytes = "019-+.eE"
	var numbers func(prefix string, n int)
	numbers = func(prefix string, n int) {
		if prefix != "" {
			agree(prefix)
			agree("[" + prefix + "]")
		}
		if n > 0 {
			for i := range len(numberBytes) {
				numbers(prefix+numberBytes[i:i+1], n-1)
			}
		}
	}
	numbers("", 5)
	var keys []string
	for _, a := range []rune{0, 0x1f, '"', '\\', '/', 'a', 0x7f, 0x80, 0x7ff, 0x800, 0xd7ff, 0xe000, 0xfb33, 0xffff, 0x10000, 0x1f600, 0x10ffff} {
		keys = append(keys, string(a))
		for _, b := range []rune{0, 'a', 0xe000, 0x1f600} {
			keys = append(keys, string([]rune{a, b}))
		}
	}
	for _, a := range keys {
		for _, b := range keys {
			agree(`{` + string(envelope.AppendJCSString(nil, a)) + `:0,` + string(envelope.AppendJCSString(nil, b)) + `:0}`)
		}
	}
}

// A decoded envelope shares no memory with the caller's buffer, and its
// Payload none with its Wire().
func TestDecodeDoesNotAlias(t *testing.T) {
	wire := bytes.Clone(sampleEnvelope(t).Wire())
	want := string(wire)
	e, err := envelope.Verify(wire)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := envelope.DecodeFast(wire); !ok {
		t.Fatal("a signed envelope must take the fast path")
	}
	for i := range wire {
		wire[i] = 'x'
	}
	if string(e.Wire()) != want {
		t.Fatal("the envelope changed with the caller's buffer")
	}
	payload := string(e.Payload)
	e.Payload[0] = '['
	_ = append(e.Payload, "more"...)
	if string(e.Wire()) != want {
		t.Fatal("writing to Payload changed Wire()")
	}
	e.Payload[0] = payload[0]
}

func TestVerifyAllocations(t *testing.T) {
	e, err := envelope.Sign(benchDraft(), testKey(1))
	if err != nil {
		t.Fatal(err)
	}
	wire := e.Wire()
	// The envelope, one buffer for its text and payload, its strings and
	// content_refs; nothing for canonicalization, hashing or the signature.
	n := testing.AllocsPerRun(20, func() {
		if _, err := envelope.Verify(wire); err != nil {
			t.Fatal(err)
		}
	})
	if n > 16 {
		t.Fatalf("Verify makes %v allocations", n)
	}
}

// Signed envelopes take the fast path; small edits to them (which make most
// of them non-canonical, malformed or wrongly signed) give the same result on
// both paths.
func TestDecodeFastPathAgreesRapid(t *testing.T) {
	key := testKey(1)
	rapid.Check(t, func(t *rapid.T) {
		e, err := envelope.Sign(drawDraft(t), key)
		if err != nil {
			t.Fatal(err)
		}
		wire := e.Wire()
		fast, ok := envelope.DecodeFast(wire)
		if !ok {
			t.Fatalf("signed envelope missed the fast path: %s", wire)
		}
		if err := fast.Check(); err != nil {
			t.Fatal(err)
		}
		checkFastPathAgrees(t, wire)
		checkFastPathAgrees(t, mutateText(t, wire))
	})
}

// snippets are edits likely to keep text JSON but change its canonical form.
var snippets = []string{
	" ", "\n", `"`, `\`, ",", ":", "{", "}", "[", "]", "0", "1", "-", ".", "e", "E", "+",
	`\u0061`, `\u001f`, `\u001F`, `\/`, `\n`, `\t`, `\u000a`, "é", "\U0001F600", "\ue000",
	`\ud83d\ude00`, "\x7f", "\x80", "\xff", "1.0", "-0", "1e2", `"a":1,`, `"zz":[],`, "null", "true",
}

func mutateText(t *rapid.T, wire []byte) []byte {
	out := bytes.Clone(wire)
	for range rapid.IntRange(1, 3).Draw(t, "edits") {
		at := rapid.IntRange(0, len(out)).Draw(t, "at")
		switch rapid.IntRange(0, 3).Draw(t, "op") {
		case 0: // insert
			s := rapid.SampledFrom(snippets).Draw(t, "insert")
			out = append(out[:at:at], append([]byte(s), out[at:]...)...)
		case 1: // delete
			n := rapid.IntRange(0, len(out)-at).Draw(t, "delete")
			out = append(out[:at:at], out[at+n:]...)
		case 2: // replace one byte
			if at < len(out) {
				out[at] = rapid.Byte().Draw(t, "byte")
			}
		case 3: // swap two spans of the same length
			if n := rapid.IntRange(0, (len(out)-at)/2).Draw(t, "span"); n > 0 {
				a, b := bytes.Clone(out[at:at+n]), bytes.Clone(out[at+n:at+2*n])
				copy(out[at:], b)
				copy(out[at+n:], a)
			}
		}
	}
	return out
}

// FuzzDecodeFastPathAgreesWithJCS: for any text, the fast path's canonical
// check agrees with jcs.Transform, and Decode gives the same envelope or the
// same rejection as the slow path.
func FuzzDecodeFastPathAgreesWithJCS(f *testing.F) {
	for _, s := range fastPathSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		checkFastPathAgrees(t, in)
	})
}

// Decode alone, on canonical text (the fast path) and on the same envelope
// indented (the slow path).
func BenchmarkEnvelopeDecode(b *testing.B) {
	e, err := envelope.Sign(benchDraft(), testKey(1))
	if err != nil {
		b.Fatal(err)
	}
	var indented bytes.Buffer
	if err := json.Indent(&indented, e.Wire(), "", "  "); err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name string
		wire []byte
	}{{"canonical", e.Wire()}, {"indented", indented.Bytes()}} {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(c.wire)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := envelope.Decode(c.wire); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
