//go:build !wasip1

package sdk

var host Host = noHost{}
