// Package lifecycle plays what our users do with the charts, end to end: helm install, helm
// upgrade with an override, helm uninstall, and the refusals, with the real Helm CLIs against
// local clusters whose pods the simulated node runs. `make demo` narrates it; the e2e tests
// run the same stories and fail on the same checks.
package lifecycle

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/mtc-helm/mtc-helm/internal/localcluster"
	"github.com/mtc-helm/mtc-helm/internal/testenv"
)

// Namespace is where MTC lives; mig-controller hard-codes it.
const Namespace = "openshift-migration"

// Lab holds the clusters of a story and where its narration goes.
type Lab struct {
	// Out receives step titles, commands and their output.
	Out io.Writer
	// Helm is the Helm CLI to use: bin/helm (Helm 3) or bin/helm4 (Helm 4).
	Helm string
	// Root is the repository root.
	Root string
	// Verbose prints every command's whole output; otherwise only failures and selected lines.
	Verbose bool

	envs  []*testenv.Env
	start time.Time
}

// NewLab finds the repository and the Helm CLI named helm ("helm" or "helm4").
func NewLab(out io.Writer, helm string) (*Lab, error) {
	root, err := localcluster.RepoRoot()
	if err != nil {
		return nil, err
	}
	p := filepath.Join(root, "bin", helm)
	if _, err := os.Stat(p); err != nil {
		return nil, fmt.Errorf("%s is missing: run `make tools`", p)
	}
	return &Lab{Out: out, Helm: p, Root: root, start: time.Now()}, nil
}

// Cluster starts a local cluster (real OLM on OpenShift 4), the MTC operator and mig-controller
// doubles as the pods of their images, and the cluster-wide
// pull secret, as an OpenShift cluster with access to registry.redhat.io.
func (l *Lab) Cluster(ctx context.Context, f localcluster.Flavour) (*testenv.Env, error) {
	e, err := testenv.Start(ctx, testenv.Options{Flavour: f, NodePullSecret: f.Kind != localcluster.Kubernetes, Doubles: f.Kind != localcluster.Kubernetes})
	if err != nil {
		return nil, err
	}
	l.envs = append(l.envs, e)
	return e, nil
}

// Close stops every cluster the lab started.
func (l *Lab) Close() {
	for i := len(l.envs) - 1; i >= 0; i-- {
		l.envs[i].Stop()
	}
	l.envs = nil
}

// Step runs f under a numbered title and reports how long it took.
func (l *Lab) Step(title string, f func() error) error {
	fmt.Fprintf(l.Out, "\n==> %s\n", title)
	t := time.Now()
	err := f()
	d := time.Since(t).Round(100 * time.Millisecond)
	if err != nil {
		fmt.Fprintf(l.Out, "    FAILED after %s: %v\n", d, err)
		return fmt.Errorf("%s: %w", title, err)
	}
	fmt.Fprintf(l.Out, "    done in %s\n", d)
	return nil
}

// Say prints an indented line of narration.
func (l *Lab) Say(format string, args ...any) {
	fmt.Fprintf(l.Out, "    "+format+"\n", args...)
}

// Run runs a command against env's cluster and returns its combined output. The command line
// is printed; the output too when verbose or when the command fails.
func (l *Lab) Run(ctx context.Context, e *testenv.Env, name string, args ...string) (string, error) {
	bin := name
	switch name {
	case "helm":
		bin = l.Helm
	case "kubectl":
		bin = filepath.Join(l.Root, "bin", name)
	case "mtc-hooks":
		bin = e.HookBinary
	}
	shown := append([]string{name}, args...)
	fmt.Fprintf(l.Out, "    $ %s\n", strings.Join(shown, " "))
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+e.Kubeconfig, "HELM_CACHE_HOME="+filepath.Join(e.Cluster.Dir, "helm-cache"),
		"HELM_CONFIG_HOME="+filepath.Join(e.Cluster.Dir, "helm-config"), "HELM_DATA_HOME="+filepath.Join(e.Cluster.Dir, "helm-data"))
	if e.Cluster.Flavour.Kind == localcluster.OCP3 {
		// Kubernetes 1.11 ignores the streaming watch-list request that client-go 0.35 and
		// later (Helm 3.22, Helm 4) send by default, so Helm would wait forever for a hook Job.
		cmd.Env = append(cmd.Env, "KUBE_FEATURE_WatchListClient=false")
	}
	cmd.Dir = l.Root
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	err := cmd.Run()
	out := buf.String()
	if l.Verbose || err != nil {
		l.indent(out)
	}
	if err != nil {
		return out, fmt.Errorf("%s failed: %w", name, err)
	}
	return out, nil
}

// Show prints the lines of out that contain any of the markers (all lines when none given).
func (l *Lab) Show(out string, markers ...string) {
	if l.Verbose {
		return
	}
	seen := map[string]bool{}
	for _, line := range strings.Split(strings.TrimRight(out, "\n"), "\n") {
		// log lines (key=value diagnostics) and repeats stay out of the narration
		if strings.Contains(line, " level=") || seen[line] {
			continue
		}
		seen[line] = true
		if len(markers) == 0 {
			fmt.Fprintf(l.Out, "      %s\n", line)
			continue
		}
		for _, m := range markers {
			if strings.Contains(line, m) {
				fmt.Fprintf(l.Out, "      %s\n", line)
				break
			}
		}
	}
}

func (l *Lab) indent(out string) {
	for _, line := range strings.Split(strings.TrimRight(out, "\n"), "\n") {
		fmt.Fprintf(l.Out, "      %s\n", line)
	}
}

// Elapsed is the time since the lab started.
func (l *Lab) Elapsed() time.Duration { return time.Since(l.start).Round(time.Second) }
