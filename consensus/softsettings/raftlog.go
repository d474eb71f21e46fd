package softsettings

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lni/dragonboat/v4/logger"
)

// raftLogs is what dragonboat's loggers write through (set as its logger
// factory at init, before any of them is made): each line once, then the
// same kind of line (the same package, format and string arguments, not
// its errors or numbers: a transport's "failed to get a connection to
// ADDR" for one address) at most once per repeatEvery, saying how many
// were held back. A cluster whose peers
// start one after another, or one of whose hosts is down, made dragonboat
// print a connection error per attempt, several a second per peer, on
// every host's stderr.
var raftLogs = &raftSink{out: os.Stderr, now: time.Now, repeatEvery: 30 * time.Second}

// raftSink writes dragonboat's lines, holding back repeats.
type raftSink struct {
	mu          sync.Mutex
	out         io.Writer
	now         func() time.Time
	repeatEvery time.Duration
	seen        map[string]*repeat
}

type repeat struct {
	last time.Time
	held int
}

// maxKinds bounds the repeats remembered (the kinds of line are few: a
// format per call site, an address or shard per argument).
const maxKinds = 4096

// write prints one line of pkg at level letter, unless a line of its kind
// was printed less than repeatEvery ago.
func (s *raftSink) write(letter byte, pkg, format string, args []any) {
	key := pkg + "\x00" + format
	for _, a := range args {
		// Addresses and names, not errors (they hold fresh local ports) or
		// numbers (counts; ids, which dragonboat mostly passes as strings
		// through dn(), so lines of two shards rarely merge).
		if str, ok := a.(string); ok {
			key += "\x00" + str
		}
	}
	msg := strings.TrimRight(fmt.Sprintf(format, args...), "\n")
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	if s.seen == nil || len(s.seen) >= maxKinds {
		s.seen = map[string]*repeat{}
	}
	r := s.seen[key]
	if r != nil && now.Sub(r.last) < s.repeatEvery {
		r.held++
		return
	}
	suffix := ""
	if r != nil && r.held > 0 {
		suffix = fmt.Sprintf(" (%d more like it in the last %v)", r.held, now.Sub(r.last).Round(time.Second))
	}
	s.seen[key] = &repeat{last: now}
	fmt.Fprintf(s.out, "%s %c | raft %s: %s%s\n", now.Format("2006-01-02 15:04:05.000000"), letter, pkg, msg, suffix)
}

// raftLogger is one dragonboat package's logger.
type raftLogger struct {
	pkg   string
	level atomic.Int32 // a logger.LogLevel: lines above it are dropped
}

func newRaftLogger(pkg string) logger.ILogger {
	l := &raftLogger{pkg: pkg}
	l.level.Store(int32(logger.ERROR))
	return l
}

func (l *raftLogger) SetLevel(level logger.LogLevel) { l.level.Store(int32(level)) }

func (l *raftLogger) logf(level logger.LogLevel, letter byte, format string, args []any) {
	if int32(level) > l.level.Load() {
		return
	}
	raftLogs.write(letter, l.pkg, format, args)
}

func (l *raftLogger) Debugf(format string, args ...any) { l.logf(logger.DEBUG, 'D', format, args) }
func (l *raftLogger) Infof(format string, args ...any)  { l.logf(logger.INFO, 'I', format, args) }
func (l *raftLogger) Warningf(format string, args ...any) {
	l.logf(logger.WARNING, 'W', format, args)
}
func (l *raftLogger) Errorf(format string, args ...any) { l.logf(logger.ERROR, 'E', format, args) }

// Panicf writes the line, whatever the level and however recent the last
// like it, and panics with it, as dragonboat's own logger does.
func (l *raftLogger) Panicf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	raftLogs.mu.Lock()
	fmt.Fprintf(raftLogs.out, "%s C | raft %s: %s\n", raftLogs.now().Format("2006-01-02 15:04:05.000000"), l.pkg, msg)
	raftLogs.mu.Unlock()
	panic(msg)
}
