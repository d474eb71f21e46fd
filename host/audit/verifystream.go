package audit

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/canswarm/swarmhost/internal/parallel"
)

// Verify and VerifyThread hold a bounded part of the trail: Verify a
// thread at a time per core, and a thread file over verifyWholeBelow a
// window of its lines at a time (the swarm thread of a node that ran for
// months, or a NEED with a very long history). Read, which returns every
// line, holds them all.
var (
	// verifyWholeBelow is the size of a thread file verified from one read
	// of it; a larger one is read a window at a time. A variable for tests.
	verifyWholeBelow int64 = 4 << 20
	// windowLines and windowBytes bound a window: it ends at whichever
	// comes first. Variables for tests.
	windowLines = 4096
	windowBytes = 8 << 20
)

// verifyThread checks one thread as ReadThread does and keeps none of its
// lines: a file over verifyWholeBelow is walked a window at a time, and
// reports the same first broken line as the whole read.
func verifyThread(dir, thread string) (ThreadHead, error) {
	fileName, err := FileName(thread)
	if err != nil {
		return ThreadHead{}, err
	}
	path := filepath.Join(dir, fileName)
	st, err := os.Stat(path)
	if err != nil {
		return ThreadHead{}, fmt.Errorf("verify audit thread %s: %w", thread, err)
	}
	if st.Size() < verifyWholeBelow {
		_, h, err := ReadThread(dir, thread, nil)
		return h, err
	}
	f, err := os.Open(path)
	if err != nil {
		return ThreadHead{}, fmt.Errorf("verify audit thread %s: %w", thread, err)
	}
	defer f.Close()
	return verifyStreamed(dir, thread, f)
}

// verifyStreamed walks a thread file a window of lines at a time. Each
// window's lines are hashed, decoded and checked in parallel, then walked
// in order; a window keeps the two lines before it (to tell an insertion)
// and its last line waits for the next window (whose first line its own
// hash must match), so each line is judged with the same neighbours as in
// the whole read.
func verifyStreamed(dir, thread string, f *os.File) (ThreadHead, error) {
	if n, torn, err := tornEnd(f); err != nil {
		return ThreadHead{}, fmt.Errorf("verify audit thread %s: %w", thread, err)
	} else if torn {
		// Named before anything else, as the whole read does.
		return ThreadHead{}, &TamperError{Thread: thread, Line: n,
			Problem: "torn: the last line has no newline (a write cut short, or the file was truncated)"}
	}
	r := bufio.NewReaderSize(f, 64<<10)
	var (
		lines      []Line
		raws       [][]byte
		decodeErrs []error
		checkErrs  []error
		first      uint64 = 1 // lines[0] is line first
		walked     int        // lines[:walked] are walked already
		eof        bool
	)
	for !eof {
		// Fill the window.
		from, size := len(lines), 0
		for len(lines)-from < windowLines && size < windowBytes {
			line, err := r.ReadBytes('\n')
			if errors.Is(err, io.EOF) {
				eof = true
				if len(line) > 0 {
					// The file grew after tornEnd looked: a line being
					// written. The whole read would see it torn.
					return ThreadHead{}, &TamperError{Thread: thread, Line: first + uint64(len(lines)),
						Problem: "torn: the last line has no newline (a write cut short, or the file was truncated)"}
				}
				break
			}
			if err != nil {
				return ThreadHead{}, fmt.Errorf("verify audit thread %s: %w", thread, err)
			}
			raws = append(raws, line[:len(line)-1])
			lines = append(lines, Line{})
			decodeErrs, checkErrs = append(decodeErrs, nil), append(checkErrs, nil)
			size += len(line)
		}
		if windowHeld != nil {
			windowHeld(len(lines))
		}
		parallel.For(len(lines)-from, func(k int) {
			i := from + k
			decodeErrs[i], checkErrs[i] = readLine(&lines[i], raws[i], thread, first+uint64(i), nil)
		})
		// Walk every line whose successor is read: all of them at the end.
		end := len(lines) - 1
		if eof {
			end = len(lines)
		}
		for i := walked; i < end; i++ {
			if err := walkLine(dir, thread, lines, i, first+uint64(i), decodeErrs[i], checkErrs[i]); err != nil {
				return ThreadHead{}, err
			}
		}
		if eof {
			break
		}
		// Keep the two lines walked last and the one not walked yet.
		keep := max(end-2, 0)
		first += uint64(keep)
		lines = append(lines[:0:0], lines[keep:]...)
		raws = append(raws[:0:0], raws[keep:]...)
		decodeErrs = append(decodeErrs[:0:0], decodeErrs[keep:]...)
		checkErrs = append(checkErrs[:0:0], checkErrs[keep:]...)
		walked = end - keep
	}
	last := ThreadHead{Thread: thread, Seq: first + uint64(len(lines)) - 1}
	if len(lines) > 0 {
		last.Hash = lines[len(lines)-1].Hash
	}
	if err := checkHead(dir, last); err != nil {
		return ThreadHead{}, err
	}
	return last, nil
}

// windowHeld, when set (tests), is told how many lines a streamed verify
// holds, at each window.
var windowHeld func(lines int)

// tornEnd reports whether the file's last byte is not a newline, and then
// how many lines it has (the last, torn one included), reading it a block
// at a time; it leaves the file's offset at its start.
func tornEnd(f *os.File) (lines uint64, torn bool, err error) {
	st, err := f.Stat()
	if err != nil || st.Size() == 0 {
		return 0, false, err
	}
	last := make([]byte, 1)
	if _, err := f.ReadAt(last, st.Size()-1); err != nil {
		return 0, false, err
	}
	if last[0] == '\n' {
		return 0, false, nil
	}
	buf := make([]byte, 1<<20)
	for off := int64(0); off < st.Size(); {
		n, err := f.ReadAt(buf, off)
		lines += uint64(bytes.Count(buf[:n], []byte{'\n'}))
		off += int64(n)
		if err != nil && !errors.Is(err, io.EOF) {
			return 0, false, err
		}
		if n == 0 {
			break
		}
	}
	return lines + 1, true, nil
}
