package policies

import "embed"

// Classify is the Rego of the classify capsule (classify/*.rego).
//
//go:embed classify/*.rego
var Classify embed.FS
