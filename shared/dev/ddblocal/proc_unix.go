//go:build unix && !linux

package ddblocal

import (
	"os/exec"
	"syscall"
)

// setProcAttrs puts java in its own process group so Stop kills everything
// it started. (No parent-death signal outside Linux: call Stop.)
func setProcAttrs(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
}

func signalGroup(cmd *exec.Cmd, kill bool) error {
	sig := syscall.SIGTERM
	if kill {
		sig = syscall.SIGKILL
	}
	return syscall.Kill(-cmd.Process.Pid, sig)
}

func startCmd(cmd *exec.Cmd) error { return cmd.Start() }
