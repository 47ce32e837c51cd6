// Package launch starts and stops the glimpse processes the benchmarks
// measure.
package launch

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os/exec"
	"syscall"
	"time"
)

// FreeLoopbackAddr returns a 127.0.0.1 address with a port free right now.
func FreeLoopbackAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// Stop sends SIGTERM to the started server by PID and escalates to SIGKILL
// only if it does not exit within grace; exited receives cmd.Wait's result.
// logf reports an escalation.
func Stop(cmd *exec.Cmd, exited <-chan error, grace time.Duration, logf func(format string, args ...any)) {
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(grace):
		logf("server pid %d ignored SIGTERM for %s; killing it", cmd.Process.Pid, grace)
		_ = cmd.Process.Kill()
		<-exited
	}
}

// WaitReady polls base+"/versions" with client until it answers 200, the
// server exits (exited), ctx ends or timeout passes, whichever is first.
func WaitReady(ctx context.Context, client *http.Client, base string, exited <-chan error, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for attempt := 0; attempt < 1000 && time.Now().Before(deadline); attempt++ {
		select {
		case err := <-exited:
			return fmt.Errorf("server exited before answering: %v", err)
		case <-ctx.Done():
			return ctx.Err()
		default:
		}
		// A short per-try timeout keeps a server that accepts but never
		// answers from stretching the wait past the deadline.
		tryCtx, cancel := context.WithTimeout(ctx, time.Second)
		req, _ := http.NewRequestWithContext(tryCtx, http.MethodGet, base+"/versions", nil)
		resp, err := client.Do(req)
		ok := err == nil && resp.StatusCode == http.StatusOK
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		cancel()
		if ok {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("no 200 from %s/versions within %s", base, timeout)
}

// CheckLoopback refuses a URL whose host does not resolve to loopback
// addresses only: the benchmarks load only services on this machine. what
// names the URL in the message ("-url", "Keystone URL").
func CheckLoopback(raw, what string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return fmt.Errorf("bad %s %q", what, raw)
	}
	ips, err := net.LookupIP(u.Hostname())
	if err != nil {
		return fmt.Errorf("resolve %s: %w", u.Hostname(), err)
	}
	for _, ip := range ips {
		if !ip.IsLoopback() {
			return fmt.Errorf("%s %s is not a loopback address", what, u.Hostname())
		}
	}
	return nil
}
