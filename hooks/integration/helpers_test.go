package integration

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/mtc-helm/mtc-helm/internal/localcluster"
	"github.com/mtc-helm/mtc-helm/internal/testenv"
	"github.com/mtc-helm/mtc-helm/internal/testenv/envtest"
)

func TestMain(m *testing.M) { envtest.Main(m) }

// result is one run of the mtc-hooks binary.
type result struct {
	stdout, stderr string
	code           int
	elapsed        time.Duration
}

func (r result) String() string {
	return "exit " + strconv.Itoa(r.code) + "\n--- stdout\n" + r.stdout + "--- stderr\n" + r.stderr
}

// hooks runs the freshly built mtc-hooks as a subprocess against kubeconfig.
func hooks(t *testing.T, kubeconfig string, args ...string) result {
	t.Helper()
	cmd, out, errb := hooksCmd(t, kubeconfig, args...)
	start := time.Now()
	err := cmd.Run()
	return finish(t, cmd, out, errb, err, start)
}

func hooksCmd(t *testing.T, kubeconfig string, args ...string) (*exec.Cmd, *bytes.Buffer, *bytes.Buffer) {
	t.Helper()
	bin, err := testenv.HookBinary()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	t.Cleanup(cancel)
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 10 * time.Second
	return cmd, &out, &errb
}

func finish(t *testing.T, cmd *exec.Cmd, out, errb *bytes.Buffer, err error, start time.Time) result {
	t.Helper()
	r := result{stdout: out.String(), stderr: errb.String(), elapsed: time.Since(start)}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			r.code = 128 + int(ws.Signal())
		}
	default:
		t.Fatalf("mtc-hooks did not run: %v", err)
	}
	return r
}

func wantExit(t *testing.T, r result, code int, contains ...string) {
	t.Helper()
	if r.code != code {
		t.Fatalf("want exit %d, got:\n%s", code, r)
	}
	for _, c := range contains {
		if !strings.Contains(r.stdout+r.stderr, c) {
			t.Fatalf("output lacks %q:\n%s", c, r)
		}
	}
}

// controlPlane starts only the API server side of a flavour (no node, no registry): enough for the checks
// that only read the API.
func controlPlane(t testing.TB, flavour string) *localcluster.Cluster {
	t.Helper()
	f, ctx, cancel := starting(t, flavour)
	defer cancel()
	c, err := localcluster.Start(ctx, localcluster.Options{Flavour: f, OnStart: testenv.Track})
	if err != nil {
		t.Fatalf("local cluster %s: %v", f, err)
	}
	t.Cleanup(func() { _ = c.Stop() })
	return c
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

var operatorGroups = schema.GroupVersionResource{Group: "operators.coreos.com", Version: "v1", Resource: "operatorgroups"}

// doublesEnv starts a cluster of the flavour with the node, the registry and the MTC component
// doubles as pods (and, on ocp4, the real OLM), and stops it when t ends.
func doublesEnv(t testing.TB, flavour string) *testenv.Env {
	t.Helper()
	f, ctx, cancel := starting(t, flavour)
	defer cancel()
	e, err := testenv.Start(ctx, testenv.Options{Flavour: f, Doubles: true, Storage: f.Kind != localcluster.Kubernetes})
	if err != nil {
		t.Fatalf("local cluster %s with the doubles: %v", f, err)
	}
	t.Cleanup(e.Stop)
	return e
}

// starting skips under -short, parses the flavour, and gives the time a cluster has to start.
func starting(t testing.TB, flavour string) (localcluster.Flavour, context.Context, context.CancelFunc) {
	t.Helper()
	envtest.SkipIfShort(t)
	f, err := localcluster.ParseFlavour(flavour)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	return f, ctx, cancel
}
