package localcluster

import (
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
)

// A component whose port another cluster bound first is started again on new ports; only the port
// race is retried, and only the attempts' own log lines count (a restart appends to the same log).
func TestOnFreePortsRetriesATakenPort(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	log := filepath.Join(dir, "c.log")
	var tried [][]int
	var thief net.Listener
	err := onFreePorts(1, func(ports []int) error {
		tried = append(tried, ports)
		if len(tried) == 1 {
			// someone else binds the port between freePorts and the component's own bind
			l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(ports[0]))
			if err != nil {
				t.Fatal(err)
			}
			thief = l
		}
		return startAndDie(t, log, ports[0])
	})
	if thief != nil {
		thief.Close()
	}
	if len(tried) != 2 || tried[0][0] == tried[1][0] {
		t.Fatalf("ports tried %v: want a second attempt on another port after the first was taken", tried)
	}
	if err == nil || errors.Is(err, errPortTaken) {
		t.Fatalf("the second attempt failed for another reason; got %v, want that failure without errPortTaken", err)
	}

	// Every attempt losing the race ends after portAttempts, with the log named.
	n := 0
	err = onFreePorts(1, func([]int) error {
		n++
		return exitedAtStart("c", runLogged(t, log, "echo listen tcp: bind: address already in use; exit 1"))
	})
	if n != portAttempts || !errors.Is(err, errPortTaken) {
		t.Fatalf("after %d attempts: %v; want %d attempts ending in errPortTaken", n, err, portAttempts)
	}
}

// startAndDie plays a component that binds port and exits at start, saying why in its log.
func startAndDie(t *testing.T, log string, port int) error {
	l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		return exitedAtStart("c", runLogged(t, log, "echo "+strconv.Quote(err.Error())+"; exit 1"))
	}
	l.Close()
	return exitedAtStart("c", runLogged(t, log, "echo no such flag; exit 2"))
}

// runLogged runs a shell script appending to log, as runEnv does, and returns its proc once it ended.
func runLogged(t *testing.T, log, script string) *proc {
	f, err := os.OpenFile(log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, _ := f.Stat()
	cmd := exec.Command("sh", "-c", script)
	cmd.Stdout, cmd.Stderr = f, f
	_ = cmd.Run()
	done := make(chan struct{})
	close(done)
	return &proc{name: "c", cmd: cmd, done: done, log: log, logFrom: st.Size()}
}
