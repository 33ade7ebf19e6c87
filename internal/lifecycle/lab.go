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
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/mtc-helm/mtc-helm/internal/localcluster"
	"github.com/mtc-helm/mtc-helm/internal/testenv"

	"github.com/mtc-helm/mtc-helm/hooks/kube"
	"github.com/mtc-helm/mtc-helm/internal/repo"
)

// Namespace is where MTC lives; mig-controller hard-codes it.
const Namespace = kube.Namespace

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
	root, err := repo.Root()
	if err != nil {
		return nil, err
	}
	p, err := repo.Tool(filepath.Join(root, "bin"), helm)
	if err != nil {
		return nil, err
	}
	return &Lab{Out: out, Helm: p, Root: root, start: time.Now()}, nil
}

// Cluster starts a local cluster (real OLM on OpenShift 4), the MTC operator and mig-controller
// doubles as the pods of their images, the cluster-wide pull secret, as an OpenShift cluster with
// access to registry.redhat.io, and object storage (S3, GCS, Azure Blob) for its replication repository.
func (l *Lab) Cluster(ctx context.Context, f localcluster.Flavour) (*testenv.Env, error) {
	openshift := f.Kind != localcluster.Kubernetes
	e, err := testenv.Start(ctx, testenv.Options{Flavour: f, NodePullSecret: openshift, Doubles: openshift, Storage: openshift})
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
	if name == "helm" {
		var err error
		if args, err = l.chartArgs(ctx, e, args); err != nil {
			return "", err
		}
	}
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
	cmd := l.command(ctx, e, bin, args...)
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	err := cmd.Run()
	out := buf.String()
	if l.Verbose || err != nil {
		l.indent(out)
	}
	if err != nil {
		if name == "helm" {
			l.indent(l.podReport(ctx, e, namespaceArg(args)))
		}
		return out, fmt.Errorf("%s failed: %w", name, err)
	}
	return out, nil
}

// command is a command run against the cluster of e, with Helm's homes in the cluster's directory.
func (l *Lab) command(ctx context.Context, e *testenv.Env, bin string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+e.Kubeconfig, "HELM_CACHE_HOME="+filepath.Join(e.Cluster.Dir, "helm-cache"),
		"HELM_CONFIG_HOME="+filepath.Join(e.Cluster.Dir, "helm-config"), "HELM_DATA_HOME="+filepath.Join(e.Cluster.Dir, "helm-data"))
	if e.Cluster.Flavour.Kind == localcluster.OCP3 {
		// Kubernetes 1.11 ignores the streaming watch-list request that client-go 0.35 and
		// later (Helm 3.22, Helm 4) send by default, so Helm would wait forever for a hook Job.
		cmd.Env = append(cmd.Env, "KUBE_FEATURE_WatchListClient=false")
	}
	cmd.Dir = l.Root
	return cmd
}

// helmQuiet runs the lab's Helm CLI without narration (setup the story does not tell).
func (l *Lab) helmQuiet(ctx context.Context, e *testenv.Env, args ...string) (string, error) {
	return l.Exec(ctx, e, l.Helm, args...)
}

// Exec runs bin against e's cluster with the lab's environment (KUBECONFIG, Helm's own directories),
// without narration, and returns its combined output.
func (l *Lab) Exec(ctx context.Context, e *testenv.Env, bin string, args ...string) (string, error) {
	out, err := l.command(ctx, e, bin, args...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("%s %s failed: %w\n%s", filepath.Base(bin), args[0], err, out)
	}
	return string(out), nil
}

// namespaceArg is the value of -n or --namespace in args, or "default".
func namespaceArg(args []string) string {
	for i, a := range args {
		if (a == "-n" || a == "--namespace") && i+1 < len(args) {
			return args[i+1]
		}
		if v, ok := strings.CutPrefix(a, "--namespace="); ok {
			return v
		}
	}
	return "default"
}

// podReport describes the Jobs, pods and warning events of ns after a failed helm command, so that a
// hook that never ran or ran out of time says why in the test output.
func (l *Lab) podReport(ctx context.Context, e *testenv.Env, ns string) string {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	var b strings.Builder
	fmt.Fprintf(&b, "state of namespace %s after the failure:\n", ns)
	jobs, err := e.Client.BatchV1().Jobs(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return b.String() + "  jobs: " + err.Error() + "\n"
	}
	for _, j := range jobs.Items {
		var conds []string
		for _, c := range j.Status.Conditions {
			if c.Status == corev1.ConditionTrue {
				conds = append(conds, string(c.Type)+"/"+c.Reason)
			}
		}
		start := "not started"
		if j.Status.StartTime != nil {
			start = "started " + j.Status.StartTime.UTC().Format(time.TimeOnly)
		}
		fmt.Fprintf(&b, "  job %s: created %s, %s, active %d, failed %d, succeeded %d %v\n", j.Name,
			j.CreationTimestamp.UTC().Format(time.TimeOnly), start, j.Status.Active, j.Status.Failed, j.Status.Succeeded, conds)
	}
	pods, err := e.Client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return b.String() + "  pods: " + err.Error() + "\n"
	}
	for _, p := range pods.Items {
		fmt.Fprintf(&b, "  pod %s: created %s, node %q, phase %s", p.Name, p.CreationTimestamp.UTC().Format(time.TimeOnly), p.Spec.NodeName, p.Status.Phase)
		if p.DeletionTimestamp != nil {
			b.WriteString(", deleting")
		}
		for _, c := range p.Status.ContainerStatuses {
			switch {
			case c.State.Waiting != nil:
				fmt.Fprintf(&b, ", %s waiting %s %s", c.Name, c.State.Waiting.Reason, c.State.Waiting.Message)
			case c.State.Running != nil:
				fmt.Fprintf(&b, ", %s running since %s", c.Name, c.State.Running.StartedAt.UTC().Format(time.TimeOnly))
			case c.State.Terminated != nil:
				fmt.Fprintf(&b, ", %s exited %d (%s) at %s", c.Name, c.State.Terminated.ExitCode, c.State.Terminated.Reason,
					c.State.Terminated.FinishedAt.UTC().Format(time.TimeOnly))
			}
		}
		b.WriteString("\n")
	}
	events, err := e.Client.CoreV1().Events(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return b.String() + "  events: " + err.Error() + "\n"
	}
	items := events.Items
	when := func(ev corev1.Event) time.Time {
		if !ev.LastTimestamp.IsZero() {
			return ev.LastTimestamp.Time
		}
		return ev.EventTime.Time
	}
	slices.SortStableFunc(items, func(a, b corev1.Event) int { return when(a).Compare(when(b)) })
	if len(items) > 30 {
		items = items[len(items)-30:]
	}
	for _, ev := range items {
		fmt.Fprintf(&b, "  event %s %s %s/%s: %s (x%d)\n", when(ev).UTC().Format(time.TimeOnly), ev.Type, ev.InvolvedObject.Kind,
			ev.InvolvedObject.Name, ev.Reason+" "+ev.Message, max(ev.Count, 1))
	}
	// The node's warnings (status writes that failed, binds), the last of them.
	if raw, err := os.ReadFile(filepath.Join(e.Cluster.Dir, "node.log")); err == nil {
		var warns []string
		for _, line := range strings.Split(string(raw), "\n") {
			if strings.Contains(line, "level=WARN") {
				warns = append(warns, line)
			}
		}
		if len(warns) > 20 {
			warns = warns[len(warns)-20:]
		}
		for _, w := range warns {
			fmt.Fprintf(&b, "  node: %s\n", w)
		}
	}
	return b.String()
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
