package consensus_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/canswarm/swarmhost/abi/envelope"
	"github.com/canswarm/swarmhost/consensus"
	"github.com/canswarm/swarmhost/consensus/faultnet"
	"github.com/canswarm/swarmhost/consensus/shard"
)

// hosts is the size of the test clusters.
const hosts = 3

func raftAddr(i int) string { return fmt.Sprintf("node%d:1", i) }

// cluster is three NodeHosts in this process on a faultnet.Network, host i
// (1..3) being replica i at raftAddr(i). A host can be stopped and started
// again on its folder while the others run.
type cluster struct {
	net     *faultnet.Network
	members [hosts + 1]*member // [0] unused
}

type member struct {
	mu   sync.RWMutex // held to stop or start the host
	cfg  consensus.Config
	node *consensus.Node // nil while stopped
}

// newCluster opens a cluster of three hosts. edit, when set, adjusts every
// host's configuration.
func newCluster(t testing.TB, shards int, edit func(*consensus.Config)) *cluster {
	t.Helper()
	c := &cluster{net: faultnet.New()}
	peers := map[uint64]string{}
	for i := 1; i <= hosts; i++ {
		peers[uint64(i)] = raftAddr(i)
	}
	for i := 1; i <= hosts; i++ {
		cfg := consensus.Config{Dir: t.TempDir(), ReplicaID: uint64(i), RaftAddress: raftAddr(i),
			Peers: peers, Shards: shards, Transport: c.net, RTT: 10 * time.Millisecond,
			ElectionRTT: 10, HeartbeatRTT: 1}
		if edit != nil {
			edit(&cfg)
		}
		c.members[i] = &member{cfg: cfg}
	}
	// Open waits for leaders, which takes a quorum of started hosts: open
	// all three at once.
	errs := make(chan error, hosts)
	for i := 1; i <= hosts; i++ {
		go func() { errs <- c.start(i, true) }()
	}
	t.Cleanup(c.close)
	for range hosts {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	return c
}

// start opens host i on its folder (same configuration as at creation),
// unless it is running. Without wait it does not wait for the shards to
// have leaders (the host may be cut off).
func (c *cluster) start(i int, wait bool) error {
	m := c.members[i]
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.node != nil {
		return nil
	}
	cfg := m.cfg
	if !wait {
		cfg.ReadyTimeout = -1
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	n, err := consensus.Open(ctx, cfg)
	if err != nil {
		return fmt.Errorf("opening host %d: %w", i, err)
	}
	m.node = n
	return nil
}

// stop closes host i; its data stays.
func (c *cluster) stop(i int) {
	m := c.members[i]
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.node != nil {
		m.node.Close()
		m.node = nil
	}
}

func (c *cluster) close() {
	var wg sync.WaitGroup
	for i := 1; i <= hosts; i++ {
		wg.Go(func() { c.stop(i) })
	}
	wg.Wait()
}

// node returns host i, for a test that does not stop hosts concurrently.
func (c *cluster) node(i int) *consensus.Node {
	m := c.members[i]
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.node
}

// use runs f on host i unless the host is stopped, or being stopped or
// started; it reports whether f ran. The host may be stopped while f runs:
// its calls then fail.
func (c *cluster) use(i int, f func(*consensus.Node)) bool {
	m := c.members[i]
	if !m.mu.TryRLock() {
		return false
	}
	n := m.node
	m.mu.RUnlock()
	if n == nil {
		return false
	}
	f(n)
	return true
}

// waitLeader polls the hosts in ask until all of them name the same leader
// of shard s, a replica other than not, and returns it.
func (c *cluster) waitLeader(t testing.TB, ask []int, s, not uint64) uint64 {
	t.Helper()
	ctx := ctxT(t, 60*time.Second)
	for {
		var leader uint64
		agreed := true
		for _, i := range ask {
			st, err := c.node(i).Status(ctx)
			if err != nil {
				t.Fatalf("host %d status: %v", i, err)
			}
			l := st.Shards[s-1].Leader
			if l == 0 || l == not || (leader != 0 && l != leader) {
				agreed = false
				break
			}
			leader = l
		}
		if agreed {
			return leader
		}
		if ctx.Err() != nil {
			t.Fatalf("hosts %v never agreed on a leader of shard %d other than %d", ask, s, not)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

type answer struct {
	res shard.Result
	err error
}

// Isolating the leader of a NEED's shard: the other two hosts elect a new
// leader and decide variant A; variant B, sent through the isolated old
// leader, gets no answer while it is cut off and is rejected wrong_state
// (naming A's decision) once the partition heals; a retried A is answered
// byte for byte as the first time through every host; every replica holds A.
func TestClusterLeaderIsolation(t *testing.T) {
	c := newCluster(t, 2, nil)
	need := needID(1)
	s, err := c.node(1).ShardOf(need)
	if err != nil {
		t.Fatal(err)
	}
	old := int(c.waitLeader(t, []int{1, 2, 3}, s, 0))
	var rest []int
	for i := 1; i <= hosts; i++ {
		if i != old {
			rest = append(rest, i)
		}
	}

	c.net.Isolate(raftAddr(old))
	b := decide(need, 1, 2)
	bDone := make(chan answer, 1)
	go func() {
		// Long enough to outlive the partition and a few proposal attempts.
		ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
		defer cancel()
		res, err := c.node(old).Decide(ctx, b)
		bDone <- answer{res, err}
	}()

	leader := c.waitLeader(t, rest, s, uint64(old))
	a := decide(need, 1, 1)
	first := mustPropose(t, c.node(rest[0]), a)
	if !first.Accepted || first.Fence == 0 || first.DecideID != a.DecideID || first.Epoch != 1 {
		t.Fatalf("DECIDE A through host %d (new leader %d): %+v, want accepted with a fence", rest[0], leader, first)
	}
	var early *answer
	select {
	case ans := <-bDone:
		if ans.err == nil {
			t.Fatalf("DECIDE B through the isolated old leader %d was answered while cut off: %+v", old, ans.res)
		}
		early = &ans
	default:
	}
	if batches, _ := c.net.Dropped(); batches == 0 {
		t.Fatal("the isolation dropped no message: the old leader was not cut off")
	}

	c.net.HealAll()
	ans := answer{}
	if early != nil {
		ans = *early
	} else {
		ans = <-bDone
	}
	if ans.err != nil {
		// No answer in time: a retry, through any host, must be refused.
		t.Logf("DECIDE B through the old leader: %v; retrying it through every host", ans.err)
		for i := 1; i <= hosts; i++ {
			checkRejectedFor(t, fmt.Sprintf("retried DECIDE B through host %d", i), mustPropose(t, c.node(i), b), first)
		}
	} else {
		checkRejectedFor(t, "DECIDE B through the old leader after the heal", ans.res, first)
	}

	for i := 1; i <= hosts; i++ {
		again := mustPropose(t, c.node(i), a)
		if !bytes.Equal(again.Encode(), first.Encode()) {
			t.Fatalf("retried DECIDE A through host %d answered\n%s\nfirst answer\n%s", i, again.Encode(), first.Encode())
		}
	}
	for i := 1; i <= hosts; i++ {
		rec, found, _, err := c.node(i).Get(ctxT(t, 30*time.Second), need)
		if err != nil || !found {
			t.Fatalf("host %d: Get: found=%v err=%v", i, found, err)
		}
		if rec.Epoch != 1 || rec.State != shard.StateDecided || rec.Decision == nil ||
			rec.Decision.DecideID != a.DecideID || rec.Fence != first.Fence {
			t.Fatalf("host %d holds %+v, want epoch 1 decided by A at fence %d", i, rec, first.Fence)
		}
	}
}

// checkRejectedFor checks that res refuses a conflicting DECIDE, naming the
// standing decision won.
func checkRejectedFor(t *testing.T, what string, res, won shard.Result) {
	t.Helper()
	if res.Accepted || res.Reason != envelope.CodeWrongState || res.DecideID != won.DecideID ||
		res.Fence != won.Fence || res.Epoch != 1 {
		t.Fatalf("%s: %+v, want wrong_state naming decision %s at fence %d", what, res, won.DecideID, won.Fence)
	}
}

// A host closed while the others decide, release and finalize catches up
// when reopened on its folder: its own replica of every shard reaches the
// same applied state (read locally through Status) and it answers repeats
// as the others did. The small snapshot interval makes the leaders compact
// their logs past what the stopped host has, so it catches up from a
// snapshot sent over the transport.
func TestClusterRestartCatchesUp(t *testing.T) {
	c := newCluster(t, 2, func(cfg *consensus.Config) { cfg.SnapshotEntries = 16 })
	answers := map[int]shard.Result{}
	for i := range 10 {
		answers[i] = mustPropose(t, c.node(1+i%2), decide(needID(i), 1, 1))
	}
	c.stop(3)
	for i := 10; i < 70; i++ {
		answers[i] = mustPropose(t, c.node(1+i%2), decide(needID(i), 1, 1))
	}
	for i := range 70 {
		if !answers[i].Accepted {
			t.Fatalf("need %d: %+v", i, answers[i])
		}
	}
	for i := range 10 {
		mustPropose(t, c.node(2), release(needID(i), 1, shard.ReasonExpired))
		mustPropose(t, c.node(1), finalize(needID(10+i), 1, 1))
	}
	// Five of the finalized NEEDs are collected while host 3 is away: its
	// snapshot holds their ids only.
	collected := map[string]bool{}
	for i := 10; i < 15; i++ {
		b, _ := shard.BucketOf(needID(i))
		if res := mustPropose(t, c.node(1+i%2), &shard.GC{Bucket: b, Needs: []string{needID(i)}}); res.Dropped != 1 {
			t.Fatalf("GC of need %d: %+v", i, res)
		}
		collected[needID(i)] = true
	}
	// More after, so that the snapshots host 3 is sent are taken after the
	// GCs: it learns of them from a snapshot, not from the log.
	for i := 70; i < 130; i++ {
		answers[i] = mustPropose(t, c.node(1+i%2), decide(needID(i), 1, 1))
	}
	// Status reads host 1's replicas, which may apply host 2's last
	// proposals a moment after host 2 had its answer.
	var want consensus.Status
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		var err error
		if want, err = c.node(1).Status(ctxT(t, 30*time.Second)); err != nil {
			t.Fatal(err)
		}
		if want.Decided == 125 && want.Finalized == 5 && want.Collected == 5 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("host 1 counts %d decided, %d finalized, %d collected; want 125, 5 and 5", want.Decided,
				want.Finalized, want.Collected)
		}
	}

	if err := c.start(3, true); err != nil {
		t.Fatal(err)
	}
	ctx := ctxT(t, 60*time.Second)
	for {
		got, err := c.node(3).Status(ctx)
		if err != nil {
			t.Fatalf("host 3 never caught up: %v; last status %+v, want %+v", err, got.Shards, want.Shards)
		}
		if caughtUp(got, want) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	// Its feed tells of every command, those it caught up on from the
	// snapshot too (the protocol core learns of them only from there).
	// A collected NEED is told of as a GC naming it, from the log or, as
	// the snapshot no longer holds its commands, alone.
	wantSeen := map[string]bool{}
	for i := range 130 {
		if !collected[needID(i)] {
			wantSeen[string(decide(needID(i), 1, 1).Encode())] = true
		}
	}
	for i := range 10 {
		wantSeen[string(release(needID(i), 1, shard.ReasonExpired).Encode())] = true
		if !collected[needID(10+i)] {
			wantSeen[string(finalize(needID(10+i), 1, 1).Encode())] = true
		}
	}
	for need := range collected {
		wantSeen["GC "+need] = true
	}
	recovered := 0
	for len(wantSeen) > 0 {
		select {
		case a := <-c.node(3).Applied():
			cmd, err := shard.Parse(a.Command)
			if err != nil {
				t.Fatal(err)
			}
			delete(wantSeen, string(cmd.Encode()))
			if gc, ok := cmd.(*shard.GC); ok {
				for _, need := range gc.Needs {
					delete(wantSeen, "GC "+need)
				}
			}
			if a.Recovered {
				recovered++
			}
		case <-ctx.Done():
			t.Fatalf("host 3's feed never told of %d accepted commands, e.g. %s", len(wantSeen), slices.Collect(maps.Keys(wantSeen))[0])
		}
	}
	if recovered == 0 {
		t.Fatal("host 3 caught up without a snapshot: the test no longer covers the recovered commands")
	}
	for i := range 130 {
		res := mustPropose(t, c.node(3), decide(needID(i), 1, 1))
		if collected[needID(i)] {
			if res.Accepted || res.Reason != envelope.CodeWrongState {
				t.Fatalf("need %d, collected: a repeat of its DECIDE answered %s, want wrong_state", i, res.Encode())
			}
			continue
		}
		if !bytes.Equal(res.Encode(), answers[i].Encode()) {
			t.Fatalf("need %d: repeat through the restarted host answered %s, first answer %s", i, res.Encode(), answers[i].Encode())
		}
	}
}

// caughtUp reports whether every shard of got holds what want's does and
// has applied at least as far.
func caughtUp(got, want consensus.Status) bool {
	for i, w := range want.Shards {
		g := got.Shards[i]
		if g.Error != "" || g.Applied < w.Applied || g.Needs != w.Needs || g.Decided != w.Decided ||
			g.Finalized != w.Finalized || g.Collected != w.Collected {
			return false
		}
	}
	return true
}

// A host removed from the cluster (RemoveHost) learns it: its replicas of
// every shard stop, Removed says so, and a proposal there fails at once
// with ErrRemoved rather than being retried for as long as its context
// lasts. The two hosts left decide on their own. Started again, the
// removed host is refused with ErrRemoved.
func TestRemovedHostKnowsIt(t *testing.T) {
	const shards = 2
	c := newCluster(t, shards, nil)
	if err := c.node(1).RemoveHost(ctxT(t, time.Minute), 3); err != nil {
		t.Fatal(err)
	}
	removed := c.node(3)
	deadline := time.Now().Add(30 * time.Second)
	for {
		if n, of := removed.Removed(); n == of && of == shards {
			break
		}
		if time.Now().After(deadline) {
			n, of := removed.Removed()
			t.Fatalf("host 3 knows itself removed from %d of %d shards", n, of)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if n, _ := c.node(1).Removed(); n != 0 {
		t.Fatalf("host 1, a member, says it was removed from %d shards", n)
	}
	// Without the removal known, it fails with dragonboat's "shard not
	// found" instead (not a temporary error: it was never retried here,
	// but the host asked again each minute).
	need := needID(1)
	if _, err := removed.Propose(ctxT(t, time.Minute), decide(need, 1, 1)); !errors.Is(err, consensus.ErrRemoved) {
		t.Fatalf("a proposal on the removed host: %v, want ErrRemoved", err)
	}
	if res := mustPropose(t, c.node(2), decide(need, 1, 1)); !res.Accepted {
		t.Fatalf("the hosts left: %+v", res)
	}
	// Started again on its folder, it applies its removal again and says
	// so, rather than waiting for a leader until Open's time is out.
	c.stop(3)
	if err := c.start(3, true); !errors.Is(err, consensus.ErrRemoved) {
		t.Fatalf("the removed host started again: %v, want ErrRemoved", err)
	}
}

// A host that is down is removed all the same (it cannot take the
// leadership RemoveHost offers it first), and so is the host that runs the
// command, from itself. The members left decide, and count one less.
func TestRemoveStoppedHostAndItself(t *testing.T) {
	const shards = 2
	c := newCluster(t, shards, nil)
	c.stop(3)
	if err := c.node(1).RemoveHost(ctxT(t, time.Minute), 3); err != nil {
		t.Fatalf("removing a stopped host: %v", err)
	}
	for s := range c.membersOf(t, 1) {
		if members := c.membersOf(t, 1)[s]; len(members) != 2 || members[3] != "" {
			t.Fatalf("shard %d after removing host 3: %v", s, members)
		}
	}
	if n, err := c.node(1).Members(); err != nil || n != 2 {
		t.Fatalf("host 1 counts %d members (%v), want 2", n, err)
	}
	if res := mustPropose(t, c.node(1), decide(needID(7), 1, 1)); !res.Accepted {
		t.Fatalf("the two hosts left: %+v", res)
	}
	// Host 2 removes itself: it applies its own removal and says so.
	if err := c.node(2).RemoveHost(ctxT(t, time.Minute), 2); err != nil {
		t.Fatalf("a host removing itself: %v", err)
	}
	if n, of := c.node(2).Removed(); n != shards || of != shards {
		t.Fatalf("host 2 knows itself removed from %d of %d shards", n, of)
	}
	if res := mustPropose(t, c.node(1), decide(needID(8), 1, 1)); !res.Accepted {
		t.Fatalf("host 1, alone now: %+v", res)
	}
}

// membersOf is each shard's membership as host i reads it through the
// leader: shard -> replica id -> address.
func (c *cluster) membersOf(t *testing.T, i int) map[uint64]map[uint64]string {
	t.Helper()
	st, err := c.node(i).Status(ctxT(t, 30*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	out := map[uint64]map[uint64]string{}
	for _, s := range st.Shards {
		out[s.Shard] = s.Members
	}
	return out
}
