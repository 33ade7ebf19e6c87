package lifecycle_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/mtc-helm/mtc-helm/charts"
	"github.com/mtc-helm/mtc-helm/internal/catalog"
	"github.com/mtc-helm/mtc-helm/internal/lifecycle"
	"github.com/mtc-helm/mtc-helm/internal/localcluster"
	"github.com/mtc-helm/mtc-helm/internal/testenv"
)

var subscriptionsGVR = schema.GroupVersionResource{Group: "operators.coreos.com", Version: "v1alpha1", Resource: "subscriptions"}

// Each OpenShift minor a chart supports installs, with default values, the newest bundle of the
// chart's channel in that minor's catalog, with OADP resolved by OLM, up to a reconciled
// MigrationController that helm test confirms.
func TestIntegrationInstallPerMinor(t *testing.T) {
	t.Parallel()
	testCases := []struct {
		chart, line string
		minors      []string
	}{
		{"mtc-1.8", "1.8", []string{"4.14", "4.15", "4.16", "4.17", "4.18", "4.19", "4.20"}},
		{"mtc-1.7", "1.7", []string{"4.12", "4.13", "4.14", "4.15", "4.16", "4.17"}},
	}
	matrix, err := charts.LoadMatrix()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range testCases {
		compat := matrix[tc.line]
		for i, minor := range tc.minors {
			// Alternate the Helm CLIs so that both install every line.
			helm := []string{"helm", "helm4"}[i%2]
			t.Run(tc.chart+"/"+minor+"/"+helm, func(t *testing.T) {
				t.Parallel()
				cat, err := catalog.For(minor)
				if err != nil {
					t.Fatal(err)
				}
				head, ok := cat.Head(catalog.MTCPackage, compat.Channel)
				if !ok {
					t.Fatalf("the %s catalog has no channel %s", minor, compat.Channel)
				}
				l := lab(t, helm)
				ctx := ctxFor(t)
				e := cluster(t, l, localcluster.Flavour{Kind: localcluster.OCP4, Version: minor})
				if _, err := l.Install(ctx, e, tc.chart); err != nil {
					t.Fatal(err)
				}
				sub, err := e.Dynamic.Resource(subscriptionsGVR).Namespace(ns).Get(ctx, "mtc-operator", metav1.GetOptions{})
				if err != nil {
					t.Fatal(err)
				}
				if got, _, _ := unstructured.NestedString(sub.Object, "status", "installedCSV"); got != head.CSV {
					t.Errorf("installed %s, want the channel head %s", got, head.CSV)
				}
				if err := l.CheckInstalled(ctx, e, false); err != nil {
					t.Fatal(err)
				}
				// helm test runs mtc-hooks verify (no --logs: Helm 3 cannot read the log of a test
				// pod its delete policy already removed).
				// Longer than verify's CSV grace (2m), so that a CSV OLM briefly takes out of
				// Succeeded under load is waited for rather than cut off by Helm.
				out, err := l.Run(ctx, e, "helm", "test", "mtc", "-n", ns, "--timeout", "4m")
				if err != nil || !strings.Contains(out, "Phase:          Succeeded") {
					t.Fatalf("helm test: %v\n%s", err, out)
				}
				spec, err := lifecycle.MigrationControllerSpec(ctx, e)
				if err != nil {
					t.Fatal(err)
				}
				if v, _ := spec["version"].(string); v != head.Version {
					t.Errorf("MigrationController reconciled by operator %q, want %s", v, head.Version)
				}
			})
		}
	}
}

// A user who pins OADP to a channel the catalog lacks is refused by the configure hook in one
// sentence naming the channel, well before Helm's timeout: the install runs with --timeout 30s,
// so a hook that only waited would fail with Helm's own timeout instead.
func TestIntegrationPinnedOADPChannelAbsent(t *testing.T) {
	t.Parallel()
	const channel = "stable-1.1"
	cat, err := catalog.For("4.17")
	if err != nil {
		t.Fatal(err)
	}
	if cat.HasChannel(catalog.OADPPackage, channel) {
		t.Fatalf("the 4.17 catalog carries %s; pick a channel it lacks", channel)
	}
	l := lab(t, "helm")
	ctx := ctxFor(t)
	e := cluster(t, l, ocp417)
	out, err := l.Run(ctx, e, "helm", "install", "mtc", l.Chart("mtc-1.8"), "-n", ns, "--create-namespace",
		"--set", "olm.oadp.channel="+channel, "--timeout", "30s")
	if err == nil {
		t.Fatalf("the install with OADP pinned to %s went through:\n%s", channel, out)
	}
	want := "OLM cannot resolve Subscription openshift-migration/mtc-operator ("
	var refusal string
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, want) {
			refusal = line
		}
	}
	if refusal == "" || !strings.Contains(refusal, channel) {
		t.Fatalf("want the configure hook's refusal naming %s (%q…), got:\n%s", channel, want, out)
	}
	fmt.Fprintf(l.Out, "    refusal: %s\n", strings.TrimSpace(refusal))
	// The refusal is the hook's answer: its Job failed with its one pod, by the pod failure policy,
	// and configure was not run a second time (its backoffLimit is for pods that did not answer).
	job, err := e.Client.BatchV1().Jobs(ns).Get(ctx, "mtc-hook-configure", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("the failed configure Job is not kept for inspection: %v", err)
	}
	var failed *batchv1.JobCondition
	for i := range job.Status.Conditions {
		if c := &job.Status.Conditions[i]; c.Type == batchv1.JobFailed && c.Status == corev1.ConditionTrue {
			failed = c
		}
	}
	if failed == nil || failed.Reason != batchv1.JobReasonPodFailurePolicy || job.Status.Failed != 1 {
		t.Errorf("configure Job: %d failed pods, Failed condition %+v; want one pod and reason %s", job.Status.Failed, failed, batchv1.JobReasonPodFailurePolicy)
	}
}

// OLM marks a CSV that had Succeeded Failed (ComponentUnhealthy) while its operator pod is
// unavailable. The operator pod is deleted while its image cannot be pulled (the mirror lost it):
// helm test's check (mtc-hooks verify) waits and succeeds once the image is back and the pod runs
// again, and fails with the CSV's reason when it does not come back within the grace period.
func TestIntegrationOperatorPodOutage(t *testing.T) {
	t.Parallel()
	const image = "rhmtc/openshift-migration-rhel8-operator:v1.8"
	l := lab(t, "helm")
	ctx := ctxFor(t)
	e := cluster(t, l, ocp417)
	if _, err := l.Install(ctx, e, "mtc-1.8"); err != nil {
		t.Fatal(err)
	}
	csvName := installedCSV(t, e)
	outage := func() {
		t.Helper()
		if err := e.Registry.Delete(ctx, image); err != nil {
			t.Fatal(err)
		}
		if err := e.Client.CoreV1().Pods(ns).DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{LabelSelector: operatorSelector(t, e)}); err != nil {
			t.Fatal(err)
		}
		waitCSVLeft(t, e, csvName, "Succeeded")
		l.Say("CSV %s left Succeeded while the operator pod cannot start", csvName)
	}

	// The pod comes back: verify waits for it.
	outage()
	verify := exec.CommandContext(ctx, e.HookBinary, "verify", "--kubeconfig", e.Kubeconfig, "--csv-grace", "3m", "--interval", "500ms")
	var out syncBuffer
	verify.Stdout, verify.Stderr = &out, &out
	if err := verify.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- verify.Wait() }()
	waitFor(t, "verify to wait for the CSV", func() bool {
		select {
		case err := <-done:
			t.Fatalf("verify ended (%v) before the operator came back:\n%s", err, out.String())
		default:
		}
		return strings.Contains(out.String(), "waiting for it to come back")
	})
	if err := e.Registry.Push(ctx, image); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("verify failed although the operator came back: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "CSV "+csvName+" is Succeeded") {
		t.Errorf("verify does not report the CSV Succeeded:\n%s", out.String())
	}

	// The pod does not come back: verify fails with the CSV's reason once the grace has passed.
	outage()
	res, err := l.Run(ctx, e, "mtc-hooks", "verify", "--csv-grace", "5s", "--interval", "500ms")
	if err == nil {
		t.Fatalf("verify passed while the operator pod cannot run:\n%s", res)
	}
	if !strings.Contains(res, "CSV "+csvName+" is ") || !strings.Contains(res, "after it had Succeeded") {
		t.Errorf("verify does not name the CSV's reason:\n%s", res)
	}
}

func installedCSV(t *testing.T, e *testenv.Env) string {
	t.Helper()
	sub, err := e.Dynamic.Resource(subscriptionsGVR).Namespace(ns).Get(context.Background(), "mtc-operator", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	name, _, _ := unstructured.NestedString(sub.Object, "status", "installedCSV")
	return name
}

// operatorSelector is the label selector of the operator Deployment's pods.
func operatorSelector(t *testing.T, e *testenv.Env) string {
	t.Helper()
	d, err := e.Client.AppsV1().Deployments(ns).Get(context.Background(), "migration-operator", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return metav1.FormatLabelSelector(d.Spec.Selector)
}

// waitCSVLeft waits until the CSV's phase is no longer phase.
func waitCSVLeft(t *testing.T, e *testenv.Env, name, phase string) {
	t.Helper()
	csvGVR := schema.GroupVersionResource{Group: "operators.coreos.com", Version: "v1alpha1", Resource: "clusterserviceversions"}
	var last string
	waitFor(t, "CSV "+name+" to leave "+phase, func() bool {
		u, err := e.Dynamic.Resource(csvGVR).Namespace(ns).Get(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			return false
		}
		last, _, _ = unstructured.NestedString(u.Object, "status", "phase")
		return last != "" && last != phase
	})
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	err := wait.PollUntilContextTimeout(context.Background(), 200*time.Millisecond, 3*time.Minute, true, func(context.Context) (bool, error) {
		return cond(), nil
	})
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// syncBuffer is a bytes.Buffer that a running command writes while the test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// On OpenShift 3.11 the legacy operator double runs as its pod with the chart's ServiceAccount
// migration-operator. Kubernetes 1.11 has no escalate verb, so a ClusterRole missing one rule of
// the roles the operator creates (here nonResourceURLs "*") leaves it unable to create
// migration-velero: the install fails with the API server's Forbidden message, which configure
// reads from the operator's log since the legacy operator writes no status.
func TestIntegrationLegacyClusterRoleMissingRule(t *testing.T) {
	t.Parallel()
	l := lab(t, "helm")
	ctx := ctxFor(t)
	chart := narrowedLegacyChart(t, l.ChartDir("mtc-1.7"), "  - nonResourceURLs: [\"*\"]\n    verbs: [\"*\"]\n")
	e := cluster(t, l, localcluster.Flavour{Kind: localcluster.OCP3})
	if err := lifecycle.CreateNamespaces(ctx, e, "legacy-shop"); err != nil {
		t.Fatal(err)
	}
	out, err := l.Run(ctx, e, "helm", "install", "mtc", chart, "-n", ns, "--create-namespace", "--timeout", "3m", "-f", l.Values("ocp3-remote.yaml"))
	if err == nil {
		t.Fatalf("the install went through with a ClusterRole the operator cannot create its roles with:\n%s", out)
	}
	for _, want := range []string{"the legacy MTC operator cannot reconcile MigrationController", `"migration-velero" is forbidden: attempt to grant extra privileges`} {
		if !strings.Contains(out, want) {
			t.Errorf("the refusal lacks %q:\n%s", want, out)
		}
	}
}

// narrowedLegacyChart copies a versioned chart with its library unpacked, the legacy ClusterRole
// without the given rule, and returns its path.
func narrowedLegacyChart(t *testing.T, src, rule string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), filepath.Base(src))
	if err := os.CopyFS(dst, os.DirFS(src)); err != nil {
		t.Fatal(err)
	}
	tgzs, _ := filepath.Glob(filepath.Join(dst, "charts", "mtc-lib-*.tgz"))
	if len(tgzs) != 1 {
		t.Fatalf("want one vendored library in %s/charts (run make charts), found %v", dst, tgzs)
	}
	if err := untar(tgzs[0], filepath.Join(dst, "charts")); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(tgzs[0]); err != nil {
		t.Fatal(err)
	}
	tpl := filepath.Join(dst, "charts", "mtc-lib", "templates", "_legacy.tpl")
	b, err := os.ReadFile(tpl)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), rule) {
		t.Fatalf("the legacy ClusterRole has no rule %q", rule)
	}
	if err := os.WriteFile(tpl, []byte(strings.Replace(string(b), rule, "", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	return dst
}

func untar(tgz, dir string) error {
	f, err := os.Open(tgz)
	if err != nil {
		return err
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return err
	}
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		p := filepath.Join(dir, filepath.Clean("/"+h.Name))
		if h.Typeflag != tar.TypeReg {
			continue
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		out, err := os.Create(p)
		if err != nil {
			return err
		}
		if _, err := io.Copy(out, tr); err != nil {
			out.Close()
			return err
		}
		if err := out.Close(); err != nil {
			return err
		}
	}
}

// With installPlanApproval Manual the real OLM leaves its InstallPlan unapproved: configure refuses
// naming the InstallPlan and the patch that approves it; the user approves it and runs the same
// helm upgrade again, which then completes.
func TestIntegrationManualApproval(t *testing.T) {
	t.Parallel()
	bothHelms(t, func(t *testing.T, l *lifecycle.Lab) {
		ctx := ctxFor(t)
		e := cluster(t, l, ocp417)
		out, err := l.Run(ctx, e, "helm", "install", "mtc", l.Chart("mtc-1.8"), "-n", ns, "--create-namespace",
			"--set", "olm.subscription.installPlanApproval=Manual", "--timeout", "2m")
		if err == nil {
			t.Fatalf("the install went through without an approved InstallPlan:\n%s", out)
		}
		sub, err := e.Dynamic.Resource(subscriptionsGVR).Namespace(ns).Get(ctx, "mtc-operator", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		plan := nestedString(sub, "status", "installPlanRef", "name")
		if plan == "" || !strings.Contains(out, "InstallPlan "+ns+"/"+plan+" waits for manual approval") {
			t.Fatalf("want configure's refusal naming InstallPlan %q:\n%s", plan, out)
		}
		if _, err := l.Run(ctx, e, "kubectl", "patch", "installplan", plan, "-n", ns, "--type", "merge", "-p", `{"spec":{"approved":true}}`); err != nil {
			t.Fatal(err)
		}
		if out, err := l.Run(ctx, e, "helm", "upgrade", "mtc", l.Chart("mtc-1.8"), "-n", ns,
			"--set", "olm.subscription.installPlanApproval=Manual", "--timeout", "4m"); err != nil {
			t.Fatalf("helm upgrade after the approval: %v\n%s", err, out)
		}
		if err := l.CheckInstalled(ctx, e, false); err != nil {
			t.Fatal(err)
		}
	})
}

// A hook image whose entrypoint is not in it (a broken release of the image): the hook Job's pod
// never starts, the kubelet reports CreateContainerError with the runtime's message, and the Job ends
// at its deadline (the version check's and the pull test's timeouts, which run in it, plus 30 s), which
// fails the install.
func TestIntegrationHookImageWithAWrongEntrypoint(t *testing.T) {
	t.Parallel()
	l := lab(t, "helm")
	ctx := ctxFor(t)
	e := cluster(t, l, ocp417)
	if _, err := testenv.PushHookVariant(ctx, e.Registry, "broken", runtime.GOARCH, func(c *v1.Config) {
		c.Entrypoint = []string{"/usr/local/bin/mtc-hookz"}
	}); err != nil {
		t.Fatal(err)
	}
	out, err := l.Run(ctx, e, "helm", "install", "mtc", l.Chart("mtc-1.8"), "-n", ns, "--create-namespace", "--timeout", "2m",
		"--set", "hooks.image.tag=broken", "--set", "hooks.versionCheck.timeoutSeconds=10", "--set", "hooks.pullTest.timeoutSeconds=10", "-f", noRemotes(t, l, e))
	if err == nil {
		t.Fatalf("the install went through with a hook image that cannot start:\n%s", out)
	}
	job, err := e.Client.BatchV1().Jobs(ns).Get(ctx, "mtc-hook-version-check", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	deadline := false
	for _, c := range job.Status.Conditions {
		deadline = deadline || (c.Type == batchv1.JobFailed && c.Reason == "DeadlineExceeded")
	}
	if !deadline {
		t.Errorf("the version-check Job did not end at its deadline: %+v", job.Status.Conditions)
	}
	events, err := e.Client.CoreV1().Events(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := `container create failed: exec: "/usr/local/bin/mtc-hookz": stat /usr/local/bin/mtc-hookz: no such file or directory`
	found := false
	for _, ev := range events.Items {
		found = found || (ev.Type == corev1.EventTypeWarning && ev.InvolvedObject.Kind == "Pod" && strings.Contains(ev.Message, want))
	}
	if !found {
		t.Errorf("no warning event of the hook pod says %q", want)
	}
}
