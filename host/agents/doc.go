// Package agents keeps the plugins folder loaded: every *.wasm in it is an
// agent, loaded through host/wasm (validate, instrument, compile, describe).
//
// # Lifecycle
//
//  1. Discover: list *.wasm in the folder (not recursively), in name order:
//     regular files and symbolic links to them; names starting with "."
//     are not plugins (a file being written, renamed in place once whole).
//  2. Load: read the bytes, load them on the runtime; a module that fails
//     is reported by file name and reason (an Event of kind Failed) and
//     skipped, and the rest load. Files are loaded side by side on the
//     cores, one file of each distinct module first and then the files
//     that repeat it (which find it compiled).
//  3. Serve: [Registry.Acquire] hands out a loaded module and a release
//     function; calls run while the module is acquired.
//  4. Watch: [Registry.Rescan] (called by the watcher every PollInterval)
//     notices files added, replaced (the content hash changed) and removed.
//     A replacement is loaded before the old module is dropped; a file that
//     no longer loads leaves the old version serving and reports why.
//  5. Clean up: a dropped module is closed once the last call that acquired
//     it releases it; Close stops the watcher and closes everything.
//
// The folder is polled rather than watched with inotify: it works on every
// file system (including network and container mounts), and a plugin
// folder changes rarely. A file whose identity, size and times are those
// it had when it was read, well before, is not read again.
package agents
