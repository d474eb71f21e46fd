// Package rawfile reads a whole file as os.ReadFile does, with fewer
// system calls where the platform allows.
//
// On Linux os.Open registers every file with the runtime's poller: for a
// regular file that is an epoll_ctl that fails and four fcntl calls around
// it, besides the open, fstat, reads and close. A replay reads two files
// per thread of a trail (its lines and its head), and in a virtual machine
// each system call costs microseconds. ReadFile here opens, sizes, reads
// and closes the file with the system calls themselves (retried on EINTR).
//
// The contract is os.ReadFile's: the whole content up to end of file (read
// until a read returns nothing, so a file that grows while it is read is
// read to its end), or an *fs.PathError naming the operation and the file,
// whose Err satisfies errors.Is(err, fs.ErrNotExist) for a missing file.
// Elsewhere than Linux it is os.ReadFile.
package rawfile
