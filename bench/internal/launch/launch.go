// Package launch starts and stops the glimpse processes the benchmarks
// measure.
package launch

import (
	"net"
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
