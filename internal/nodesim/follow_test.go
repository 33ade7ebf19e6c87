package nodesim

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// lockedBuffer is a bytes.Buffer safe for one writer and one reader.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
	got chan struct{} // receives after each write
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	n, err := b.buf.Write(p)
	b.mu.Unlock()
	b.got <- struct{}{}
	return n, err
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// A followed log (kubectl logs -f, which the hooks' failure reports read) shows each line the container
// writes as it is written, woken by the write itself, and ends once the container has ended, with the
// last partial line flushed.
func TestFollowWakesOnEachLineAndEndsWithTheContainer(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "c.log")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var logged signal
	lw := &lineWriter{w: f, onLine: logged.Fire}
	out := lw.stream("stdout")
	var running atomic.Bool
	running.Store(true)

	got := &lockedBuffer{got: make(chan struct{}, 16)}
	done := make(chan error, 1)
	go func() {
		done <- copyLog(context.Background(), got, path, logOptions{follow: true, tail: -1}, running.Load, logged.Wait)
	}()
	for _, line := range []string{"first\n", "second\n"} {
		if _, err := io.WriteString(out, line); err != nil {
			t.Fatal(err)
		}
		<-got.got // the follower wrote the line out without any timer to wake it
		if !strings.HasSuffix(got.String(), line) {
			t.Fatalf("after writing %q the follower shows %q", line, got.String())
		}
	}
	select {
	case err := <-done:
		t.Fatalf("the follower ended while the container runs: %v", err)
	default:
	}
	_, _ = io.WriteString(out, "no newline")
	lw.flush()
	running.Store(false)
	logged.Fire() // what runContainer does once the process has been waited for
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if want := "first\nsecond\nno newline\n"; got.String() != want {
		t.Fatalf("followed log %q, want %q", got.String(), want)
	}
}
