package cluster

import (
	"context"
	"io"
	"log/slog"
	"strings"

	"github.com/hashicorp/go-hclog"
)

// raftLogger routes hashicorp/raft's hclog output into the node's slog
// logger, so one node writes one log stream in one format.
func raftLogger(log *slog.Logger, level string) hclog.Logger {
	l := hclog.NewInterceptLogger(&hclog.LoggerOptions{
		Name: "raft", Level: hclog.LevelFromString(level), Output: io.Discard,
	})
	l.RegisterSink(&slogSink{log: log, level: hclog.LevelFromString(level)})
	return l
}

type slogSink struct {
	log   *slog.Logger
	level hclog.Level
}

var slogLevels = map[hclog.Level]slog.Level{
	hclog.Trace: slog.LevelDebug - 4, hclog.Debug: slog.LevelDebug,
	hclog.Info: slog.LevelInfo, hclog.Warn: slog.LevelWarn, hclog.Error: slog.LevelError,
}

// Accept implements hclog.SinkAdapter.
func (s *slogSink) Accept(name string, level hclog.Level, msg string, args ...interface{}) {
	if level < s.level {
		return
	}
	lv, ok := slogLevels[level]
	if !ok {
		lv = slog.LevelInfo
	}
	s.log.Log(context.Background(), lv, msg, append([]any{"module", name}, args...)...)
}

// memberlistLog adapts memberlist's "[LEVEL] memberlist: ..." lines to slog
// levels; debug lines are dropped unless the logger is at debug.
type memberlistLog struct{ log *slog.Logger }

func (w memberlistLog) Write(p []byte) (int, error) {
	line := strings.TrimSpace(string(p))
	lv := slog.LevelInfo
	for prefix, l := range map[string]slog.Level{"[DEBUG]": slog.LevelDebug, "[INFO]": slog.LevelInfo, "[WARN]": slog.LevelWarn, "[ERR]": slog.LevelError} {
		if strings.HasPrefix(line, prefix) {
			lv, line = l, strings.TrimSpace(strings.TrimPrefix(line, prefix))
			break
		}
	}
	w.log.Log(context.Background(), lv, strings.TrimPrefix(line, "memberlist: "), "module", "memberlist")
	return len(p), nil
}
