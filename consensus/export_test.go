package consensus

import "github.com/lni/dragonboat/v4"

// NodeHostForTest returns the node's NodeHost, for the benchmarks that
// compare the adapter with dragonboat alone on the same NodeHost.
func (n *Node) NodeHostForTest() *dragonboat.NodeHost { return n.nh }
