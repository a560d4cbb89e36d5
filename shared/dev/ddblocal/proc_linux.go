//go:build linux

package ddblocal

import (
	"os/exec"
	"runtime"
	"sync"
	"syscall"
)

// setProcAttrs puts java in its own process group (so Stop kills everything
// it started) and asks the kernel to kill it when this process dies, so a
// crashed or killed test binary never leaves a java process behind.
func setProcAttrs(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// The parent-death signal fires when the *thread* that forked the child
// exits, not the process. Go only ends threads that a goroutine locked and
// never unlocked, so fork from one locked thread that lives as long as the
// process.
var forker struct {
	once sync.Once
	reqs chan forkReq
}

type forkReq struct {
	cmd  *exec.Cmd
	done chan error
}

func startCmd(cmd *exec.Cmd) error {
	forker.once.Do(func() {
		forker.reqs = make(chan forkReq)
		go func() {
			runtime.LockOSThread() // never unlocked on purpose
			for r := range forker.reqs {
				r.done <- r.cmd.Start()
			}
		}()
	})
	done := make(chan error, 1)
	forker.reqs <- forkReq{cmd: cmd, done: done}
	return <-done
}

func signalGroup(cmd *exec.Cmd, kill bool) error {
	sig := syscall.SIGTERM
	if kill {
		sig = syscall.SIGKILL
	}
	return syscall.Kill(-cmd.Process.Pid, sig)
}
