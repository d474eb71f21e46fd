package bus

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
)

// logAdapter turns nats-server's printf-style Logger into slog records, and
// remembers the last error so that a server that fails to start can say why
// even when nobody asked for logs. Unlike the server's own logger, Fatalf
// never exits the process.
type logAdapter struct {
	l *slog.Logger

	mu       sync.Mutex
	lastErr  string
	fatalErr string
}

func (a *logAdapter) log(level slog.Level, format string, v []any) {
	if a.l == nil || !a.l.Enabled(context.Background(), level) {
		return
	}
	a.l.Log(context.Background(), level, fmt.Sprintf(format, v...), "component", "nats-server")
}

func (a *logAdapter) Noticef(format string, v ...any) { a.log(slog.LevelInfo, format, v) }
func (a *logAdapter) Warnf(format string, v ...any)   { a.log(slog.LevelWarn, format, v) }
func (a *logAdapter) Debugf(format string, v ...any)  { a.log(slog.LevelDebug, format, v) }
func (a *logAdapter) Tracef(format string, v ...any)  { a.log(slog.LevelDebug-4, format, v) }

func (a *logAdapter) Errorf(format string, v ...any) { a.fail(fmt.Sprintf(format, v...), false) }
func (a *logAdapter) Fatalf(format string, v ...any) { a.fail(fmt.Sprintf(format, v...), true) }

func (a *logAdapter) fail(msg string, fatal bool) {
	a.mu.Lock()
	a.lastErr = msg
	if fatal {
		a.fatalErr = msg
	}
	a.mu.Unlock()
	a.log(slog.LevelError, "%s", []any{msg})
}

// fatal returns the last fatal error: the server gave up (it could not
// listen, say) and will not become ready.
func (a *logAdapter) fatal() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.fatalErr
}

func (a *logAdapter) lastError() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.lastErr
}
