package nodesim

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// exec runs one attempt of a container as a local process and waits for it to end. Its output
// goes, line by line with a timestamp, to the container's log file.
func (r *podRunner) exec(c corev1.Container, init bool, argv, env []string, imageID string, attempt int) (int, metav1.Time, metav1.Time, error) {
	work := filepath.Join(r.dir, c.Name+"-work")
	_ = os.MkdirAll(work, 0o755)
	logf, err := os.OpenFile(r.logPath(c.Name), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return 1, metav1.Now(), metav1.Now(), err
	}
	defer logf.Close()
	lw := &lineWriter{w: logf, onLine: r.logged.Fire}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = env
	cmd.Dir = work
	cmd.Stdout, cmd.Stderr = lw.stream("stdout"), lw.stream("stderr")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}

	r.mu.Lock()
	if r.stopping() {
		r.mu.Unlock()
		return 137, metav1.Now(), metav1.Now(), fmt.Errorf("pod is terminating")
	}
	startErr := cmd.Start()
	started := metav1.Now()
	if startErr == nil {
		if r.n.opts.OnStart != nil {
			r.n.opts.OnStart(cmd.Process.Pid)
		}
		r.procs[c.Name] = cmd
		r.exited[cmd] = make(chan struct{})
		r.running[c.Name] = true
	}
	r.mu.Unlock()
	if startErr != nil {
		return 128, started, metav1.Now(), fmt.Errorf("failed to start container %q: %w", c.Name, startErr)
	}
	st := r.getContainer(init, c.Name)
	st.Image, st.ImageID = c.Image, imageID
	st.ContainerID = fmt.Sprintf("sim://%s-%s-%d", r.pod.UID, c.Name, attempt)
	st.State = corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: started}}
	t := true
	st.Started, st.Ready = &t, !init
	r.setContainer(init, st)
	r.n.event(r.pod, corev1.EventTypeNormal, "Started", "Started container "+c.Name)
	r.n.log.Info("container started", "pod", r.pod.Namespace+"/"+r.pod.Name, "container", c.Name, "pid", cmd.Process.Pid)
	if !init {
		r.afterStart()
	}

	_ = cmd.Wait()
	finished := metav1.Now()
	r.n.log.Info("container exited", "pod", r.pod.Namespace+"/"+r.pod.Name, "container", c.Name, "code", exitCode(cmd.ProcessState))
	lw.flush()
	r.mu.Lock()
	delete(r.procs, c.Name)
	close(r.exited[cmd])
	delete(r.exited, cmd)
	r.running[c.Name] = false
	r.mu.Unlock()
	r.logged.Fire()
	if !init {
		r.afterStart()
	}
	return exitCode(cmd.ProcessState), started, finished, nil
}

// afterStart recomputes the pod phase and readiness from the container states.
func (r *podRunner) afterStart() {
	r.update(func(s *corev1.PodStatus) {
		all, any := true, false
		for _, cs := range s.ContainerStatuses {
			if cs.State.Running != nil {
				any = true
			} else {
				all = false
			}
		}
		if s.Phase == corev1.PodPending && any {
			s.Phase = corev1.PodRunning
		}
		for i := range s.Conditions {
			switch s.Conditions[i].Type {
			case corev1.ContainersReady, corev1.PodReady:
				want := all && len(s.ContainerStatuses) == len(r.pod.Spec.Containers)
				if (s.Conditions[i].Status == corev1.ConditionTrue) != want {
					s.Conditions[i] = cond(s.Conditions[i].Type, want, "ContainersNotReady")
				}
			}
		}
	})
}

func exitCode(ps *os.ProcessState) int {
	if ps == nil {
		return 137
	}
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ps.ExitCode()
}

// lineWriter stores output as "<RFC3339Nano timestamp> <stream> <line>" lines, as the CRI log
// format does, so that logs can be served with or without timestamps.
type lineWriter struct {
	mu     sync.Mutex
	w      io.Writer
	buf    map[string]*bytes.Buffer
	onLine func() // called after lines were written, when set
}

type streamWriter struct {
	lw   *lineWriter
	name string
}

func (lw *lineWriter) stream(name string) io.Writer { return &streamWriter{lw: lw, name: name} }

func (s *streamWriter) Write(p []byte) (int, error) {
	lw := s.lw
	lw.mu.Lock()
	defer lw.mu.Unlock()
	if lw.buf == nil {
		lw.buf = map[string]*bytes.Buffer{}
	}
	b := lw.buf[s.name]
	if b == nil {
		b = &bytes.Buffer{}
		lw.buf[s.name] = b
	}
	b.Write(p)
	lines := 0
	for {
		i := bytes.IndexByte(b.Bytes(), '\n')
		if i < 0 {
			break
		}
		line := b.Next(i + 1)
		fmt.Fprintf(lw.w, "%s %s %s", time.Now().UTC().Format(time.RFC3339Nano), s.name, line)
		lines++
	}
	if lines > 0 && lw.onLine != nil {
		lw.onLine()
	}
	return len(p), nil
}

func (lw *lineWriter) flush() {
	lw.mu.Lock()
	defer lw.mu.Unlock()
	for name, b := range lw.buf {
		if b.Len() > 0 {
			fmt.Fprintf(lw.w, "%s %s %s\n", time.Now().UTC().Format(time.RFC3339Nano), name, b.String())
			b.Reset()
		}
	}
}

type logOptions struct {
	follow     bool
	timestamps bool
	tail       int
}

// copyLog writes a container log to w. With follow it keeps writing new lines while the
// container runs.
// changed returns a channel closed at the next line or container end (nil when nothing can change).
func copyLog(ctx context.Context, w io.Writer, path string, o logOptions, running func() bool, changed func() <-chan struct{}) error {
	f, err := os.Open(path)
	if err != nil {
		if os.IsNotExist(err) {
			return nil
		}
		return err
	}
	defer f.Close()
	flusher, _ := w.(http.Flusher)
	emit := func(line string) error {
		ts, rest, _ := strings.Cut(line, " ")
		_, text, _ := strings.Cut(rest, " ")
		if o.timestamps {
			text = ts + " " + text
		}
		_, err := io.WriteString(w, text)
		return err
	}
	rd := bufio.NewReader(f)
	if o.tail >= 0 {
		var lines []string
		for {
			l, err := rd.ReadString('\n')
			if l != "" && strings.HasSuffix(l, "\n") {
				lines = append(lines, l)
			}
			if err != nil {
				break
			}
		}
		if len(lines) > o.tail {
			lines = lines[len(lines)-o.tail:]
		}
		for _, l := range lines {
			if err := emit(l); err != nil {
				return err
			}
		}
	}
	var partial string
	for {
		var next <-chan struct{}
		if o.follow {
			next = changed() // taken before the read, so that a line written after it wakes us
		}
		l, err := rd.ReadString('\n')
		if err == nil {
			if e := emit(partial + l); e != nil {
				return e
			}
			partial = ""
			continue
		}
		partial += l
		if flusher != nil {
			flusher.Flush()
		}
		if !o.follow || !running() {
			// one more read after the container ended, then stop
			if o.follow {
				rest, _ := io.ReadAll(rd)
				for _, l := range strings.SplitAfter(partial+string(rest), "\n") {
					if strings.HasSuffix(l, "\n") {
						_ = emit(l)
					}
				}
			}
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-next:
		}
	}
}
