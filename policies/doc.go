// Package policies holds the first-party policy capsules' Rego, embedded so
// that a node can build its default capsule without the source tree.
package policies
