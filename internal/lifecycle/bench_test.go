package lifecycle_test

import (
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/mtc-helm/mtc-helm/internal/lifecycle"
	"github.com/mtc-helm/mtc-helm/internal/testenv"
)

// manualUninstall is the documented uninstall procedure, run as kubectl processes: delete the
// MigrationController, remove the operator (Subscriptions and CSVs, as the console does), then
// `oc delete $(oc get … -o name | grep …)` for the CRDs, cluster roles and bindings.
func manualUninstall(ctx context.Context, b *testing.B, l *lifecycle.Lab, e *testenv.Env) {
	b.Helper()
	run := func(args ...string) string {
		out, err := l.Run(ctx, e, "kubectl", args...)
		if err != nil {
			b.Fatalf("kubectl %v: %v\n%s", args, err, out)
		}
		return out
	}
	deleteMatching := func(kind, pattern string) {
		var names []string
		for _, n := range strings.Fields(run("get", kind, "-o", "name")) {
			if strings.Contains(n, pattern) {
				names = append(names, n)
			}
		}
		if len(names) > 0 {
			run(append([]string{"delete"}, names...)...)
		}
	}
	run("delete", "migrationcontroller", "migration-controller", "-n", lifecycle.Namespace, "--ignore-not-found")
	run("delete", "subscriptions.operators.coreos.com", "--all", "-n", lifecycle.Namespace)
	run("delete", "clusterserviceversions.operators.coreos.com", "--all", "-n", lifecycle.Namespace)
	deleteMatching("crds", "migration.openshift.io")
	deleteMatching("crds", "velero")
	deleteMatching("clusterroles", "migration.openshift.io")
	run("delete", "clusterrole", "migration-operator", "--ignore-not-found")
	deleteMatching("clusterroles", "velero")
	deleteMatching("clusterrolebindings", "migration.openshift.io")
	run("delete", "clusterrolebindings", "migration-operator", "--ignore-not-found")
	deleteMatching("clusterrolebindings", "velero")
}

// BenchmarkLifecycle compares, on one local OpenShift 4.17 cluster, helm install with every
// hook against helm install --no-hooks, and helm uninstall with the cleanup hooks against
// helm uninstall --no-hooks followed by the documented manual uninstall as kubectl commands.
//
//	go test -run '^$' -bench Lifecycle -benchtime 3x ./internal/lifecycle
func BenchmarkLifecycle(b *testing.B) {
	testenv.SkipIfShort(b)
	l, err := lifecycle.NewLab(io.Discard, "helm")
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	ctx := context.Background()
	e, err := l.Cluster(ctx, ocp417)
	if err != nil {
		b.Fatal(err)
	}
	local, err := l.LocalValues(e, "local.yaml", map[string]any{"remoteClusters": nil})
	if err != nil {
		b.Fatal(err)
	}
	install := func(extra ...string) time.Duration {
		args := append([]string{"install", "mtc", l.Chart("mtc-1.8"), "-n", lifecycle.Namespace, "--create-namespace", "--timeout", "4m",
			"-f", l.Values("control.yaml"), "-f", local}, extra...)
		t := time.Now()
		if out, err := l.Run(ctx, e, "helm", args...); err != nil {
			b.Fatalf("%v\n%s", err, out)
		}
		return time.Since(t)
	}
	uninstall := func(extra ...string) time.Duration {
		t := time.Now()
		if out, err := l.Run(ctx, e, "helm", append([]string{"uninstall", "mtc", "-n", lifecycle.Namespace, "--timeout", "4m"}, extra...)...); err != nil {
			b.Fatalf("%v\n%s", err, out)
		}
		return time.Since(t)
	}
	var withHooks, noHooks, hookedUninstall, manual time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		withHooks += install()
		hookedUninstall += uninstall()
		noHooks += install("--no-hooks")
		uninstall("--no-hooks")
		// the manual procedure starts from a complete install, so install with hooks again
		install()
		t := time.Now()
		uninstall("--no-hooks")
		manualUninstall(ctx, b, l, e)
		manual += time.Since(t)
		if _, err := l.Run(ctx, e, "mtc-hooks", "cleanup", "--timeout", "2m"); err != nil {
			b.Fatal(err) // leave the cluster clean for the next round
		}
	}
	n := float64(b.N)
	b.ReportMetric(withHooks.Seconds()/n, "s-install-hooks")
	b.ReportMetric(noHooks.Seconds()/n, "s-install-nohooks")
	b.ReportMetric(withHooks.Seconds()/noHooks.Seconds(), "install-ratio")
	b.ReportMetric(hookedUninstall.Seconds()/n, "s-uninstall-cleanup")
	b.ReportMetric(manual.Seconds()/n, "s-uninstall-manual")
	b.ReportMetric(hookedUninstall.Seconds()/manual.Seconds(), "uninstall-ratio")
}
