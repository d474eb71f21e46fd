// Package policies holds the first-party policy capsules' Rego, embedded so
// that a node can build its default capsule without the source tree.
package policies

import "embed"

// Classify is the Rego of the classify capsule (classify/*.rego).
//
//go:embed classify/*.rego
var Classify embed.FS
