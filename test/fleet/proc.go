package fleet

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/edgesync/edgesync/test/syncbuf"
)

// Proc is one OS process that can be killed and started again with the
// same command line, as a supervisor (compose, systemd) would.
type Proc struct {
	Name  string
	bin   string
	args  []string
	env   []string
	ready func() error // nil: started means ready

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{}
	logs   syncbuf.Buffer
	starts int
}

// Start starts the process and waits until it is ready.
func (p *Proc) Start() error {
	p.mu.Lock()
	if p.cmd != nil {
		p.mu.Unlock()
		return fmt.Errorf("%s: already running", p.Name)
	}
	cmd := exec.Command(p.bin, p.args...)
	cmd.Env = append(os.Environ(), p.env...)
	// A test binary killed by its timeout takes its processes with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	p.starts++
	fmt.Fprintf(&p.logs, "----- start %d: %s %s\n", p.starts, p.Name, time.Now().Format(time.TimeOnly+".000"))
	cmd.Stdout, cmd.Stderr = &p.logs, &p.logs
	if err := cmd.Start(); err != nil {
		p.mu.Unlock()
		return fmt.Errorf("start %s: %w", p.Name, err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	p.cmd, p.exited = cmd, exited
	p.mu.Unlock()
	if p.ready == nil {
		return nil
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		err := p.ready()
		if err == nil {
			return nil
		}
		select {
		case <-exited:
			return fmt.Errorf("%s exited before it was ready:\n%s", p.Name, p.Tail(30))
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not ready after 60s: %w\n%s", p.Name, err, p.Tail(30))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Kill sends SIGKILL and waits for the process to be gone.
func (p *Proc) Kill() { p.signal(syscall.SIGKILL, 0) }

// Stop asks the process to stop (SIGTERM) and kills it after 15 s.
func (p *Proc) Stop() { p.signal(syscall.SIGTERM, 15*time.Second) }

func (p *Proc) signal(sig syscall.Signal, grace time.Duration) {
	p.mu.Lock()
	cmd, exited := p.cmd, p.exited
	p.cmd = nil
	p.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(sig)
	if grace > 0 {
		select {
		case <-exited:
			return
		case <-time.After(grace):
			_ = cmd.Process.Kill()
		}
	}
	<-exited
}

// Logs is everything the process wrote, every start included.
func (p *Proc) Logs() string { return p.logs.String() }

// Tail is the last n lines of Logs.
func (p *Proc) Tail(n int) string {
	lines := strings.Split(strings.TrimRight(p.Logs(), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// PeakRSS is the most resident memory the running process has held
// (VmHWM, Linux), in bytes.
func (p *Proc) PeakRSS() (int64, error) {
	b, err := p.procFile("status")
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb * 1024, err
		}
	}
	return 0, fmt.Errorf("%s: no VmHWM in /proc", p.Name)
}

// CPUTime is the processor time, user and system, the running process has
// used since it started (Linux).
func (p *Proc) CPUTime() (time.Duration, error) {
	b, err := p.procFile("stat")
	if err != nil {
		return 0, err
	}
	// The fields after the command's name, which is in parentheses and may
	// hold spaces: utime and stime are the 12th and 13th, in clock ticks.
	_, rest, ok := strings.Cut(string(b), ") ")
	f := strings.Fields(rest)
	if !ok || len(f) < 13 {
		return 0, fmt.Errorf("%s: unexpected /proc stat %q", p.Name, b)
	}
	var ticks int64
	for _, v := range f[11:13] {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("%s: /proc stat: %w", p.Name, err)
		}
		ticks += n
	}
	return time.Duration(ticks) * time.Second / clockTicks, nil
}

// clockTicks is USER_HZ, the unit of /proc times: 100 on every Linux
// architecture Go runs on.
const clockTicks = 100

func (p *Proc) procFile(name string) ([]byte, error) {
	p.mu.Lock()
	cmd := p.cmd
	p.mu.Unlock()
	if cmd == nil {
		return nil, fmt.Errorf("%s: not running", p.Name)
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/%s", cmd.Process.Pid, name))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p.Name, err)
	}
	return b, nil
}
