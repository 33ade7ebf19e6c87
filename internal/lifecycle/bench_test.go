package lifecycle_test

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mtc-helm/mtc-helm/internal/lifecycle"
	"github.com/mtc-helm/mtc-helm/internal/repo"
	"github.com/mtc-helm/mtc-helm/internal/testenv"
	"github.com/mtc-helm/mtc-helm/internal/testenv/envtest"
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

// benchCluster is a lab with one local OpenShift 4.17 cluster, stopped when the benchmark ends.
func benchCluster(b *testing.B) (*lifecycle.Lab, *testenv.Env) {
	b.Helper()
	envtest.SkipIfShort(b)
	l, err := lifecycle.NewLab(io.Discard, "helm")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(l.Close)
	e, err := l.Cluster(context.Background(), ocp417)
	if err != nil {
		b.Fatal(err)
	}
	return l, e
}

// benchLocal is the cluster's override: no remote cluster, its own S3 bucket.
func benchLocal(b *testing.B, l *lifecycle.Lab, e *testenv.Env) string {
	b.Helper()
	local, err := l.LocalValues(e, "local.yaml", map[string]any{"remoteClusters": nil})
	if err != nil {
		b.Fatal(err)
	}
	return local
}

// BenchmarkLifecycle compares, on one local OpenShift 4.17 cluster, helm install with every
// hook against helm install --no-hooks, and helm uninstall with the cleanup hooks against
// helm uninstall --no-hooks followed by the documented manual uninstall as kubectl commands.
//
//	go test -run '^$' -bench Lifecycle -benchtime 3x ./internal/lifecycle
func BenchmarkLifecycle(b *testing.B) {
	l, e := benchCluster(b)
	ctx := context.Background()
	local := benchLocal(b, l, e)
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

// manualInstall is the documented OLM install to a Ready MigrationController, as kubectl
// commands: namespace, OperatorGroup and Subscription, wait for the CSV, create the
// MigrationController, wait until the operator reconciled it. It returns the time to the
// Succeeded CSV, to the reconciled MigrationController, and to OLM's InstallPlan being Complete.
func manualInstall(ctx context.Context, b *testing.B, l *lifecycle.Lab, e *testenv.Env) (csv, ready, olmDone time.Duration) {
	b.Helper()
	start := time.Now()
	apply := func(doc string) {
		cmd := exec.CommandContext(ctx, filepath.Join(l.Root, "bin", "kubectl"), "--kubeconfig", e.Kubeconfig, "apply", "-f", "-")
		cmd.Stdin = strings.NewReader(doc)
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("kubectl apply: %v\n%s", err, out)
		}
	}
	run := func(args ...string) {
		if out, err := l.Run(ctx, e, "kubectl", args...); err != nil {
			b.Fatalf("kubectl %v: %v\n%s", args, err, out)
		}
	}
	apply(`apiVersion: v1
kind: Namespace
metadata: {name: openshift-migration}
---
apiVersion: operators.coreos.com/v1
kind: OperatorGroup
metadata: {name: openshift-migration, namespace: openshift-migration}
spec: {targetNamespaces: [openshift-migration]}
---
apiVersion: operators.coreos.com/v1alpha1
kind: Subscription
metadata: {name: mtc-operator, namespace: openshift-migration}
spec: {name: mtc-operator, channel: release-v1.8, source: redhat-operators, sourceNamespace: openshift-marketplace, installPlanApproval: Automatic}
`)
	// what a person does: wait until the Subscription names its CSV, then until the CSV succeeded
	run("wait", "subscription/mtc-operator", "-n", lifecycle.Namespace, "--for=jsonpath={.status.state}=AtLatestKnown", "--timeout=4m")
	name, err := l.Run(ctx, e, "kubectl", "get", "subscription", "mtc-operator", "-n", lifecycle.Namespace, "-o", "jsonpath={.status.installedCSV}")
	if err != nil {
		b.Fatal(err)
	}
	run("wait", "csv/"+strings.TrimSpace(name), "-n", lifecycle.Namespace, "--for=jsonpath={.status.phase}=Succeeded", "--timeout=4m")
	csv = time.Since(start)
	run("wait", "crd/migrationcontrollers.migration.openshift.io", "--for=condition=Established", "--timeout=2m")
	apply(`apiVersion: migration.openshift.io/v1alpha1
kind: MigrationController
metadata: {name: migration-controller, namespace: openshift-migration}
spec: {cluster_name: host, migration_velero: true, migration_controller: true, migration_ui: true, migration_log_reader: true}
`)
	run("wait", "migrationcontroller/migration-controller", "-n", lifecycle.Namespace, "--for=condition=Successful", "--timeout=4m")
	ready = time.Since(start)
	// What neither path waits for: OLM's last passes over the InstallPlan (status and bookkeeping
	// after the CSVs succeeded); measured to say how long they run on.
	run("wait", "installplan", "--all", "-n", lifecycle.Namespace, "--for=jsonpath={.status.phase}=Complete", "--timeout=4m")
	return csv, ready, time.Since(start)
}

// BenchmarkInstallAgainstManual compares, side by side on one local OpenShift 4.17 cluster with
// the real OLM, helm install of the 1.8 chart with default values (every hook: version check,
// pull test, configure) to a Ready MigrationController, against the documented manual procedure
// to the same state. Both end when the MigrationController is reconciled, while OLM still runs its
// last passes over the InstallPlan (s-manual-olm-done says when those end). The helm path's time
// is split at its milestones: the pre-install checks (until Helm creates the Subscription), OLM
// (until MTC's and OADP's CSVs succeeded), the operator's reconcile, and what comes after (the
// configure Job ending, Helm seeing it). Between rounds everything is removed with mtc-hooks cleanup.
//
//	go test -run '^$' -bench InstallAgainstManual -benchtime 3x ./internal/lifecycle
func BenchmarkInstallAgainstManual(b *testing.B) {
	l, e := benchCluster(b)
	ctx := context.Background()
	clean := func() {
		if out, err := l.Run(ctx, e, "mtc-hooks", "cleanup", "--timeout", "3m"); err != nil {
			b.Fatalf("%v\n%s", err, out)
		}
	}
	var helm, manual, manualCSV, manualOLM time.Duration
	var checks, olm, reconcile time.Duration // where the helm path's time goes
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		m := watchMilestones(b, e.Dynamic)
		t := time.Now()
		if out, err := l.Run(ctx, e, "helm", "install", "mtc", l.Chart("mtc-1.8"), "-n", lifecycle.Namespace, "--create-namespace", "--timeout", "4m"); err != nil {
			b.Fatalf("%v\n%s", err, out)
		}
		took := time.Since(t)
		helm += took
		m.stop()
		sub, csvs, rec := m.since(t, msSubscription), m.since(t, msCSVs), m.since(t, msReconciled)
		if sub == 0 || csvs == 0 || rec == 0 {
			b.Fatalf("the install's milestones were not all seen: Subscription %s, CSVs %s, MigrationController %s", sub, csvs, rec)
		}
		// printed, not logged: a benchmark's log keeps only its first lines
		fmt.Printf("round %d, helm install in %s:\n%s", i+1, took.Round(10*time.Millisecond), m.timeline(t))
		checks += sub
		olm += csvs - sub
		reconcile += rec - csvs
		if out, err := l.Run(ctx, e, "helm", "uninstall", "mtc", "-n", lifecycle.Namespace, "--timeout", "4m"); err != nil {
			b.Fatalf("%v\n%s", err, out)
		}
		clean()
		c, r, o := manualInstall(ctx, b, l, e)
		manualCSV += c
		manual += r
		manualOLM += o
		clean()
	}
	n := float64(b.N)
	b.ReportMetric(helm.Seconds()/n, "s-helm-install")
	b.ReportMetric(manual.Seconds()/n, "s-manual-install")
	b.ReportMetric(manualCSV.Seconds()/n, "s-manual-to-csv")
	b.ReportMetric(manualOLM.Seconds()/n, "s-manual-olm-done")
	b.ReportMetric(helm.Seconds()/manualOLM.Seconds(), "helm/manual-olm-done")
	b.ReportMetric(helm.Seconds()/manual.Seconds(), "helm/manual")
	b.ReportMetric(checks.Seconds()/n, "s-helm-prechecks")
	b.ReportMetric(olm.Seconds()/n, "s-helm-olm")
	b.ReportMetric(reconcile.Seconds()/n, "s-helm-reconcile")
	b.ReportMetric((helm-checks-olm-reconcile).Seconds()/n, "s-helm-after")
}

// BenchmarkStorageCheck measures what the storage check adds to a helm install, per provider, on one
// local OpenShift 4.17 cluster with MTC installed: helm upgrade with the version-check Job running
// the storage check after it, against the same upgrade with the check off (pull-test and configure
// off in both, so that only the check differs). The metric check-s/op is the difference of the two
// means.
//
//	go test -run '^$' -bench StorageCheck -benchtime 3x ./internal/lifecycle
func BenchmarkStorageCheck(b *testing.B) {
	l, e := benchCluster(b)
	ctx := context.Background()
	local := benchLocal(b, l, e)
	if out, err := l.Run(ctx, e, "helm", "install", "mtc", l.Chart("mtc-1.8"), "-n", lifecycle.Namespace, "--create-namespace", "--timeout", "4m",
		"-f", l.Values("control.yaml"), "-f", local); err != nil {
		b.Fatalf("install: %v\n%s", err, out)
	}
	upgrade := func(values string, check bool) time.Duration {
		start := time.Now()
		out, err := l.Run(ctx, e, "helm", "upgrade", "mtc", l.Chart("mtc-1.8"), "-n", lifecycle.Namespace, "--timeout", "4m",
			"-f", l.Values("control.yaml"), "-f", values, "--set", "hooks.pullTest.enabled=false,hooks.configure.enabled=false",
			"--set", "hooks.storageCheck.enabled="+strconv.FormatBool(check))
		if err != nil {
			b.Fatalf("upgrade: %v\n%s", err, out)
		}
		return time.Since(start)
	}
	for _, p := range []string{"aws", "s3", "mcg", "gcp", "azure"} {
		v := lifecycle.StorageOverride(e, p)
		v["remoteClusters"] = nil
		values, err := l.LocalValues(e, "bench-"+p+".yaml", v)
		if err != nil {
			b.Fatal(err)
		}
		upgrade(values, false) // the provider's Secret and MigStorage in place before timing
		b.Run(p, func(b *testing.B) {
			var with, without time.Duration
			for i := 0; i < b.N; i++ {
				with += upgrade(values, true)
				without += upgrade(values, false)
			}
			b.ReportMetric((with-without).Seconds()/float64(b.N), "check-s/op")
			b.ReportMetric(with.Seconds()/float64(b.N), "upgrade-with-check-s/op")
		})
	}
}

// hookDocChart writes a chart whose templates are n pre-install hook documents of one kind (a
// ServiceAccount or a Role: nothing for a pod to run, so only Helm's own work per document counts)
// and one plain ConfigMap, and returns its directory.
func hookDocChart(b *testing.B, kind string, n int) string {
	b.Helper()
	dir := filepath.Join(b.TempDir(), "hookdocs")
	var t strings.Builder
	t.WriteString("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: hookdocs\n")
	for i := range n {
		t.WriteString("---\n")
		switch kind {
		case "ServiceAccount":
			t.WriteString("apiVersion: v1\nkind: ServiceAccount\n")
		case "Role":
			t.WriteString("apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nrules: []\n")
		}
		fmt.Fprintf(&t, "metadata:\n  name: hookdoc-%d\n  annotations:\n    helm.sh/hook: pre-install\n    helm.sh/hook-delete-policy: before-hook-creation,hook-succeeded\n", i)
	}
	for name, data := range map[string]string{
		"Chart.yaml":               "apiVersion: v2\nname: hookdocs\nversion: 0.1.0\n",
		"templates/manifests.yaml": t.String(),
	} {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	return dir
}

// BenchmarkHelmHookDocuments measures what Helm itself spends on each hook document, apart from what
// the hook runs: helm install of a chart with hookDocs pre-install hook documents of one kind against
// the same chart with none, on the local OpenShift 4.17, with Helm 3 and Helm 4. Both build each hook
// document with field validation on, which fetches and parses the OpenAPI v3 schema of the
// document's group-version anew each time (a CPU profile of Helm 3.22 installing the ServiceAccount
// chart put 62 % of its CPU time there), so a core v1 document costs more than an RBAC one. The MTC charts' install runs six hook documents before
// the Subscription (ServiceAccount, Role, ClusterRole, their two bindings, the Job) and six after it.
//
//	go test -run '^$' -bench HelmHookDocuments -benchtime 3x ./internal/lifecycle
func BenchmarkHelmHookDocuments(b *testing.B) {
	const hookDocs = 6
	l, e := benchCluster(b)
	ctx := context.Background()
	charts := map[string]string{"none": hookDocChart(b, "", 0)}
	kinds := []string{"ServiceAccount", "Role"}
	for _, k := range kinds {
		charts[k] = hookDocChart(b, k, hookDocs)
	}
	for _, cli := range []string{"helm", "helm4"} {
		bin, err := repo.Tool(filepath.Join(l.Root, "bin"), cli)
		if err != nil {
			b.Fatal(err)
		}
		install := func(chart string) time.Duration {
			start := time.Now()
			if _, err := l.Exec(ctx, e, bin, "install", "hookdocs", chart, "-n", "default"); err != nil {
				b.Fatalf("%s install: %v", cli, err)
			}
			took := time.Since(start)
			if _, err := l.Exec(ctx, e, bin, "uninstall", "hookdocs", "-n", "default"); err != nil {
				b.Fatalf("%s uninstall: %v", cli, err)
			}
			return took
		}
		took := map[string]time.Duration{}
		for i := 0; i < b.N; i++ {
			for name, chart := range charts {
				took[name] += install(chart)
			}
		}
		for _, k := range kinds {
			perDoc := (took[k] - took["none"]) / time.Duration(b.N*hookDocs)
			b.ReportMetric(float64(perDoc.Microseconds())/1000, "ms-per-"+k+"-"+cli)
		}
		b.ReportMetric(took["none"].Seconds()/float64(b.N), "s-no-hooks-"+cli)
	}
}
