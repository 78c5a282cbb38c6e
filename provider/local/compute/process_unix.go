//go:build unix

package compute

import (
	"errors"
	"os/exec"
	"runtime"
	"syscall"
)

// spawner starts every child of a group from one goroutine locked to its OS
// thread. On Linux, Pdeathsig fires when the thread that created the child
// exits, not when the process does (a Go caveat: the runtime may retire a
// thread whenever a goroutine exits while locked to it). Starting all children
// from one long-lived locked thread ties their parent-death signal to the
// lifetime of the group's Run; the thread is retired only after every child
// has been stopped.
type spawner struct {
	reqs chan spawnReq
	done chan struct{}
}

type spawnReq struct {
	cmd   *exec.Cmd
	reply chan error
}

func newSpawner() *spawner {
	s := &spawner{reqs: make(chan spawnReq), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		// Never unlocked: the thread exits with the goroutine.
		runtime.LockOSThread()
		for r := range s.reqs {
			r.reply <- r.cmd.Start()
		}
	}()
	return s
}

// start starts cmd in its own process group on the spawner's thread.
func (s *spawner) start(cmd *exec.Cmd) error {
	cmd.SysProcAttr = sysProcAttr()
	reply := make(chan error, 1)
	s.reqs <- spawnReq{cmd: cmd, reply: reply}
	return <-reply
}

// close stops the spawner goroutine; call it after every child has exited.
func (s *spawner) close() {
	close(s.reqs)
	<-s.done
}

// signalGroup sends sig to the process group led by pid. A group that no
// longer exists is not an error.
func signalGroup(pid int, sig syscall.Signal) error {
	if pid <= 0 {
		return errors.New("no process")
	}
	err := syscall.Kill(-pid, sig)
	if errors.Is(err, syscall.ESRCH) {
		return nil
	}
	return err
}
