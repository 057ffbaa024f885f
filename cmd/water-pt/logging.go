package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"

	pt "gitlab.torproject.org/tpo/anti-censorship/pluggable-transports/goptlib"

	"github.com/water-pt/water-pt/internal/ptlog"
)

// logFileName is the log in the state directory (-enableLogging).
const logFileName = "water-pt.log"

// parseLevel reads -logLevel as lyrebird users write it.
func parseLevel(s string) (slog.Level, error) {
	switch strings.ToUpper(s) {
	case "ERROR":
		return slog.LevelError, nil
	case "WARN", "WARNING":
		return slog.LevelWarn, nil
	case "INFO":
		return slog.LevelInfo, nil
	case "DEBUG":
		return slog.LevelDebug, nil
	}
	return 0, fmt.Errorf("-logLevel %q: use ERROR, WARN, INFO or DEBUG", s)
}

// openLogFile opens the log O_APPEND with mode 0600 in dir.
func openLogFile(dir string) (*os.File, error) {
	return os.OpenFile(filepath.Join(dir, logFileName), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
}

// logHandler writes records to the log file (when logging is on) and sends
// notable ones (attribute ptlog.NotifyTor) to tor as LOG lines. Unless
// unsafe is set, every address in a message or attribute is scrubbed first:
// pt-spec asks PTs not to write client addresses to disk.
type logHandler struct {
	file   slog.Handler // nil when logging is off
	level  slog.Level
	toTor  bool
	unsafe bool
	attrs  []slog.Attr
	mu     *sync.Mutex
}

func newLogHandler(w io.Writer, level slog.Level, toTor, unsafe bool) *logHandler {
	h := &logHandler{level: level, toTor: toTor, unsafe: unsafe, mu: &sync.Mutex{}}
	if w != nil {
		h.file = slog.NewTextHandler(w, &slog.HandlerOptions{Level: level, ReplaceAttr: h.replace})
	}
	return h
}

// replace scrubs and drops the ptlog.NotifyTor marker from the file output.
func (h *logHandler) replace(_ []string, a slog.Attr) slog.Attr {
	if a.Key == ptlog.NotifyTor {
		return slog.Attr{}
	}
	if h.unsafe {
		return a
	}
	switch a.Value.Kind() {
	case slog.KindString:
		return slog.String(a.Key, ptlog.Scrub(a.Value.String()))
	case slog.KindAny:
		if err, ok := a.Value.Any().(error); ok {
			return slog.String(a.Key, ptlog.Scrub(err.Error()))
		}
		return slog.String(a.Key, ptlog.Scrub(fmt.Sprint(a.Value.Any())))
	}
	return a
}

func (h *logHandler) Enabled(_ context.Context, l slog.Level) bool {
	return l >= h.level || (h.toTor && l >= slog.LevelInfo)
}

func (h *logHandler) Handle(ctx context.Context, r slog.Record) error {
	notify := false
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == ptlog.NotifyTor {
			notify = true
		}
		return true
	})
	if h.toTor && (notify || r.Level >= slog.LevelError) {
		h.sendToTor(r)
	}
	if h.file != nil && r.Level >= h.level {
		return h.file.Handle(ctx, r)
	}
	return nil
}

// sendToTor writes a LOG line: the message and its attributes, scrubbed
// unless unsafe, reduced to printable ASCII (goptlib panics on anything
// else).
func (h *logHandler) sendToTor(r slog.Record) {
	var b strings.Builder
	b.WriteString(r.Message)
	add := func(a slog.Attr) bool {
		if a.Key != ptlog.NotifyTor {
			a = h.replace(nil, a)
			fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
		}
		return true
	}
	for _, a := range h.attrs {
		add(a)
	}
	r.Attrs(add)
	msg := b.String()
	if !h.unsafe {
		msg = ptlog.Scrub(msg)
	}
	sev := pt.LogSeverityNotice
	switch {
	case r.Level >= slog.LevelError:
		sev = pt.LogSeverityError
	case r.Level >= slog.LevelWarn:
		sev = pt.LogSeverityWarning
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	pt.Log(sev, printable(msg))
}

// printable keeps what a PT protocol line may carry.
func printable(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r > 0x7e {
			return '?'
		}
		return r
	}, s)
}

func (h *logHandler) WithAttrs(as []slog.Attr) slog.Handler {
	c := *h
	c.attrs = append(append([]slog.Attr{}, h.attrs...), as...)
	if h.file != nil {
		c.file = h.file.WithAttrs(as)
	}
	return &c
}

func (h *logHandler) WithGroup(name string) slog.Handler {
	c := *h
	if h.file != nil {
		c.file = h.file.WithGroup(name)
	}
	return &c
}
