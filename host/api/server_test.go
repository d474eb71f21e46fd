package api

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
)

// The API has no authentication: an address beyond loopback is refused,
// naming the way to serve the read-only routes elsewhere.
func TestCheckLoopback(t *testing.T) {
	for addr, ok := range map[string]bool{
		"127.0.0.1:0": true, "127.3.2.1:8080": true, "[::1]:80": true, "localhost:9": true,
		"0.0.0.0:8080": false, ":8080": false, "[::]:80": false, "192.168.1.5:80": false, "10.0.0.1:0": false,
		"example.com:80": false, "no port": false,
	} {
		err := CheckLoopback(addr)
		if (err == nil) != ok {
			t.Errorf("CheckLoopback(%q) = %v, want ok %v", addr, err, ok)
		}
		if err != nil && addr != "no port" && !strings.Contains(err.Error(), "loopback only") {
			t.Errorf("CheckLoopback(%q) = %v: does not say why", addr, err)
		}
	}
	s := &Server{}
	if err := s.Listen("0.0.0.0:0"); err == nil {
		s.Close()
		t.Fatal("the full API listened on every interface")
	}
}

// An observe-only server listens on any address and answers /metrics and
// /healthz alone: nothing that takes a NEED or drives the shards.
func TestObserveOnlyServesMetricsAndHealthAlone(t *testing.T) {
	unhealthy := errors.New("the loop is stuck (test)")
	s := &Server{ObserveOnly: true, Needs: nil,
		Metrics: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "metric_x 1\n") }),
		Health:  func() error { return unhealthy }}
	if err := s.Listen("0.0.0.0:0"); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	_, port, _ := net.SplitHostPort(s.ln.Addr().String())
	base := "http://127.0.0.1:" + port
	get := func(method, path string) (int, string) {
		req, _ := http.NewRequest(method, base+path, strings.NewReader("{}"))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get("GET", "/metrics"); code != 200 || body != "metric_x 1\n" {
		t.Errorf("/metrics: %d %q", code, body)
	}
	if code, body := get("GET", "/healthz"); code != 503 || !strings.Contains(body, "the loop is stuck (test)") {
		t.Errorf("/healthz: %d %q", code, body)
	}
	for _, r := range [][2]string{{"POST", "/v1/needs"}, {"GET", "/v1/needs"}, {"POST", "/v1/consensus/propose"}, {"GET", "/v1/consensus/status"}} {
		if code, _ := get(r[0], r[1]); code != http.StatusNotFound {
			t.Errorf("%s %s on the observe-only server: %d, want 404", r[0], r[1], code)
		}
	}
}

// letters reads n 'x' bytes without holding them.
type letters struct{ n int64 }

func (z *letters) Read(p []byte) (int, error) {
	if z.n <= 0 {
		return 0, io.EOF
	}
	k := min(int64(len(p)), z.n)
	for i := range p[:k] {
		p[i] = 'x'
	}
	z.n -= k
	return int(k), nil
}

// noNeeds takes no NEED: a request that reaches it fails the test.
type noNeeds struct {
	needsAPI // nil: only Submit is called
	t        *testing.T
}

type needsAPI = Needs

func (n *noNeeds) Submit(context.Context, NeedRequest) (string, error) {
	n.t.Error("a NEED request over the limit reached the node")
	return "", errors.New("unexpected")
}

// A NEED request larger than any input the CAS can hold is refused with
// 413 and why, not cut short and misread.
func TestNeedRequestOverTheLimit(t *testing.T) {
	s := &Server{Needs: &noNeeds{t: t}}
	if err := s.Listen("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	body := io.MultiReader(strings.NewReader(`{"capability":"classify","input":"`), &letters{n: MaxNeedRequestBytes}, strings.NewReader(`"}`))
	resp, err := http.Post(s.URL()+"/v1/needs", "application/json", body)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusRequestEntityTooLarge || !strings.Contains(string(b), "the NEED request is over 65 MiB") {
		t.Fatalf("%d %s, want 413 saying the request is too large", resp.StatusCode, b)
	}
}
