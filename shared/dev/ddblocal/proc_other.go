//go:build !unix

package ddblocal

import "os/exec"

func setProcAttrs(cmd *exec.Cmd) {}

func signalGroup(cmd *exec.Cmd, kill bool) error { return cmd.Process.Kill() }

func startCmd(cmd *exec.Cmd) error { return cmd.Start() }
