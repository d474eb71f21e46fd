package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"syscall"

	"github.com/canswarm/swarmhost/consensus"
	"github.com/canswarm/swarmhost/consensus/shard"
	"github.com/canswarm/swarmhost/host/protocol"
)

// Client calls a node's API.
type Client struct {
	Base string // "http://127.0.0.1:port"
	HTTP *http.Client
}

// Dial returns a client for the node serving from dataDir.
func Dial(dataDir string) (*Client, error) {
	rf, err := ReadRunFile(dataDir)
	if err != nil {
		return nil, err
	}
	// No client-wide timeout: every call carries its context (a --wait may
	// rightly take minutes).
	return &Client{Base: rf.API, HTTP: &http.Client{}}, nil
}

func (c *Client) do(ctx context.Context, method, path string, body []byte, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, c.Base+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		if errors.Is(err, syscall.ECONNREFUSED) {
			return fmt.Errorf("%w at %s (the run file is stale: the node stopped or crashed)", ErrNoNode, c.Base)
		}
		return fmt.Errorf("api: %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("api: %s %s: reading the answer: %w", method, path, err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("node: %w", &statusError{resp.StatusCode, errorOf(resp.StatusCode, b)})
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("api: %s %s: decoding the answer: %w", method, path, err)
	}
	return nil
}

// Health asks the node's /healthz: nil when it is healthy, or why not,
// with the status ("HTTP 503: ...": 503 a node to restart, 410 one to
// stop).
func (c *Client) Health(ctx context.Context) error {
	var ok map[string]string
	err := c.do(ctx, http.MethodGet, "/healthz", nil, &ok)
	var se *statusError
	if errors.As(err, &se) && !strings.HasPrefix(se.err.Error(), "HTTP ") { // errorOf says so itself of a body not JSON
		return fmt.Errorf("HTTP %d: %w", se.status, se.err)
	}
	if errors.As(err, &se) {
		return se.err
	}
	return err
}

// Status returns the node's consensus status.
func (c *Client) Status(ctx context.Context) (consensus.Status, error) {
	var st consensus.Status
	err := c.do(ctx, http.MethodGet, "/v1/consensus/status", nil, &st)
	return st, err
}

// Need returns the shard's record of a NEED.
func (c *Client) Need(ctx context.Context, need string) (NeedAnswer, error) {
	var a NeedAnswer
	err := c.do(ctx, http.MethodGet, "/v1/consensus/needs/"+need, nil, &a)
	return a, err
}

// Propose sends a shard command and returns the shard's answer.
func (c *Client) Propose(ctx context.Context, cmd shard.Command) (shard.Result, error) {
	var r shard.Result
	err := c.do(ctx, http.MethodPost, "/v1/consensus/propose", cmd.Encode(), &r)
	return r, err
}

// AddHost adds a host to every shard.
func (c *Client) AddHost(ctx context.Context, replicaID uint64, raftAddress string) error {
	b, _ := json.Marshal(Member{ReplicaID: replicaID, RaftAddress: raftAddress})
	var m Member
	return c.do(ctx, http.MethodPost, "/v1/consensus/members", b, &m)
}

// RemoveHost removes a host from every shard.
func (c *Client) RemoveHost(ctx context.Context, replicaID uint64) error {
	var m Member
	return c.do(ctx, http.MethodDelete, "/v1/consensus/members/"+strconv.FormatUint(replicaID, 10), nil, &m)
}

// SubmitNeed submits a NEED and returns its id.
func (c *Client) SubmitNeed(ctx context.Context, req NeedRequest) (string, error) {
	b, err := json.Marshal(req)
	if err != nil {
		return "", err
	}
	var out struct {
		ID string `json:"id"`
	}
	err = c.do(ctx, http.MethodPost, "/v1/needs", b, &out)
	return out.ID, err
}

// ListNeeds is GET /v1/needs: one page of the NEEDs the node knows.
func (c *Client) ListNeeds(ctx context.Context, q NeedQuery) (NeedList, error) {
	var list NeedList
	v := url.Values{}
	if q.State != "" {
		v.Set("state", q.State)
	}
	if q.After != "" {
		v.Set("after", q.After)
	}
	if q.Limit != 0 {
		v.Set("limit", strconv.Itoa(q.Limit))
	}
	path := "/v1/needs"
	if len(v) > 0 {
		path += "?" + v.Encode()
	}
	err := c.do(ctx, http.MethodGet, path, nil, &list)
	return list, err
}

// ShowNeed returns a thread's state; wait blocks until it is final,
// abandoned or refused.
func (c *Client) ShowNeed(ctx context.Context, id string, wait bool) (protocol.ThreadInfo, error) {
	var info protocol.ThreadInfo
	path := "/v1/needs/" + id
	if wait {
		path += "?wait=1"
	}
	err := c.do(ctx, http.MethodGet, path, nil, &info)
	return info, err
}

// statusError is a node's error answer with its HTTP status; it reads as
// the node's message alone.
type statusError struct {
	status int
	err    error
}

func (e *statusError) Error() string { return e.err.Error() }
func (e *statusError) Unwrap() error { return e.err }
