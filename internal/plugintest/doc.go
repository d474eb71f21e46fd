// Package plugintest builds the first-party Go plugins for tests, the way
// `make plugins` does, once per test process.
package plugintest
