// Package atomicfile writes files so that a crash leaves either the old
// content or the new, never a mix: a temporary file in the same folder is
// written, given its mode, fsynced and closed, then moved into place, and
// the folder is fsynced so the move itself is durable.
package atomicfile
