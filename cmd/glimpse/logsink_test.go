package main

import (
	"bytes"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a bytes.Buffer safe for the flusher goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Info lines are batched but reach the output within the flush interval;
// warnings are written at once; Close writes whatever is left.
func TestLogSink(t *testing.T) {
	out := &syncBuffer{}
	sink := newLogSink(out)
	log := slog.New(flushingHandler{jsonHandler(sink, false), sink})

	log.Warn("disk almost full")
	if !strings.Contains(out.String(), "disk almost full") {
		t.Fatalf("a warning was not written at once: %q", out.String())
	}
	log.Info("request", "path", "/v2/images")
	deadline := time.Now().Add(10 * logFlushInterval)
	for !strings.Contains(out.String(), "/v2/images") {
		if time.Now().After(deadline) {
			t.Fatalf("an info line was still buffered after %s: %q", 10*logFlushInterval, out.String())
		}
		time.Sleep(logFlushInterval / 4)
	}
	log.With("request_id", "req-1").Info("last words")
	sink.Close()
	if got := out.String(); !strings.Contains(got, `"request_id":"req-1"`) || !strings.Contains(got, "last words") {
		t.Fatalf("Close did not write the buffered line: %q", got)
	}
}
