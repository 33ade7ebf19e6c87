package lifecycle_test

import (
	"bytes"
	"context"
	"flag"
	"io"
	"os"
	"testing"
	"time"

	"github.com/mtc-helm/mtc-helm/internal/lifecycle"
	"github.com/mtc-helm/mtc-helm/internal/testenv/envtest"
)

func TestMain(m *testing.M) { envtest.Main(m) }

// lab returns a lab whose narration goes to the test log (and to stdout with -v, as it happens).
func lab(t *testing.T, helm string) *lifecycle.Lab {
	t.Helper()
	envtest.SkipIfShort(t)
	var out io.Writer = &testWriter{t: t}
	// -v, not -json (which sets test.v to "test2json" and already carries the test log)
	if f := flag.Lookup("test.v"); f != nil && f.Value.String() == "true" {
		out = io.MultiWriter(out, os.Stdout)
	}
	l, err := lifecycle.NewLab(out, helm)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(l.Close)
	return l
}

// bothHelms runs a story once with the Helm 3 CLI and once with Helm 4, side by side, each on a
// cluster of its own: every lifecycle story holds with both.
func bothHelms(t *testing.T, story func(t *testing.T, l *lifecycle.Lab)) {
	for _, helm := range []string{"helm", "helm4"} {
		t.Run(helm, func(t *testing.T) {
			t.Parallel()
			story(t, lab(t, helm))
		})
	}
}

type testWriter struct {
	t   *testing.T
	buf bytes.Buffer
}

func (w *testWriter) Write(p []byte) (int, error) {
	w.buf.Write(p)
	for {
		line, err := w.buf.ReadString('\n')
		if err != nil {
			w.buf.WriteString(line)
			return len(p), nil
		}
		w.t.Log(line[:len(line)-1])
	}
}

// The demo's stories are the e2e tests: the same code, the same checks, with each Helm CLI.
func TestIntegrationDemoHelm3(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	if err := lab(t, "helm").Demo(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestIntegrationDemoHelm4(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	if err := lab(t, "helm4").Demo(ctx); err != nil {
		t.Fatal(err)
	}
}
