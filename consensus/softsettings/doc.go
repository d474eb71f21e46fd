// Package softsettings makes dragonboat use the soft settings swarmhost
// ships (dragonboat-soft-settings.json in this folder, embedded).
//
// dragonboat reads its soft settings once, while its internal settings
// package initialises, from a file named dragonboat-soft-settings.json in
// the process's working directory, and offers no other way in. Go
// initialises packages in import-path order as soon as their own imports
// are ready (the Go 1.21 rule), so this package, which imports only the
// standard library and dragonboat's logger, runs before dragonboat's
// settings: its init writes the embedded file into a cache folder and
// changes into it; [Restore], called from the init of package consensus
// (which imports dragonboat, so runs after its settings), changes back. A
// dragonboat-soft-settings.json already in the working directory wins: the
// operator's own tuning is then read and nothing changes directory.
//
// It also gives dragonboat its loggers (to stderr) at ERROR and above: it
// logs every election and every setting read at WARNING or INFO, which
// would flood the CLI. SWARMHOST_RAFT_LOG=warning|info|debug restores
// them. A line of the same kind (package, format, string arguments: a
// transport's failure to reach one address) is printed at most once every
// 30 s, the next saying how many were held back: a host whose peers were
// not up yet printed several connection errors a second per peer.
package softsettings
