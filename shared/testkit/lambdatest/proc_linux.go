package lambdatest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// setProcAttrs puts the emulator in its own process group and has the
// kernel kill it if the test binary dies first.
func setProcAttrs(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// killTree SIGKILLs pid, its process group, and every descendant with its
// process group. The emulator starts the function bootstrap in a process
// group of its own, so killing the emulator's group alone would leave the
// function running; descendants are collected first, while they are still
// the emulator's children.
func killTree(pid int) {
	pids := append([]int{pid}, descendants(pid)...)
	// Stop everything first so nothing forks or acts between the kills.
	for _, p := range pids {
		_ = syscall.Kill(p, syscall.SIGSTOP)
	}
	for _, p := range pids {
		if pgid, err := syscall.Getpgid(p); err == nil && pgid > 1 && pgid != syscall.Getpgrp() {
			_ = syscall.Kill(-pgid, syscall.SIGKILL)
		}
		_ = syscall.Kill(p, syscall.SIGKILL)
	}
	// Descendants are not our children: wait until the kernel has them gone
	// (or zombies) so a "crash" is complete when Kill returns.
	deadline := time.Now().Add(2 * time.Second)
	for _, p := range pids[1:] {
		for alive(p) && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
	}
}

func alive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	_, state, _ := parseStat(string(b))
	return state != "Z" && state != "X"
}

// descendants lists every process below pid, from /proc.
func descendants(pid int) []int {
	children := map[int][]int{}
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, f := range stats {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		p, _ := strconv.Atoi(filepath.Base(filepath.Dir(f)))
		ppid, _, ok := parseStat(string(b))
		if ok {
			children[ppid] = append(children[ppid], p)
		}
	}
	var out []int
	queue := []int{pid}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		for _, c := range children[p] {
			out = append(out, c)
			queue = append(queue, c)
		}
	}
	return out
}

// parseStat returns the parent pid and state from /proc/<pid>/stat
// ("pid (comm) state ppid ..."; comm may contain spaces and parentheses).
func parseStat(s string) (ppid int, state string, ok bool) {
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, "", false
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 2 {
		return 0, "", false
	}
	ppid, err := strconv.Atoi(f[1])
	return ppid, f[0], err == nil
}
