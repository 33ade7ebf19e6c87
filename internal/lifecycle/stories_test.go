package lifecycle_test

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/mtc-helm/mtc-helm/internal/catalog"
	"github.com/mtc-helm/mtc-helm/internal/lifecycle"
	"github.com/mtc-helm/mtc-helm/internal/localcluster"
	"github.com/mtc-helm/mtc-helm/internal/testenv"
)

const ns = lifecycle.Namespace

var ocp417 = localcluster.Flavour{Kind: localcluster.OCP4, Version: "4.17", Network: localcluster.OVNKubernetes}

func ctxFor(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func cluster(t *testing.T, l *lifecycle.Lab, f localcluster.Flavour) *testenv.Env {
	t.Helper()
	e, err := l.Cluster(ctxFor(t), f)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func noRemotes(t *testing.T, l *lifecycle.Lab, e *testenv.Env) string {
	t.Helper()
	p, err := l.LocalValues(e, "local.yaml", map[string]any{"remoteClusters": nil})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// On OpenShift 3.11 the 1.7 chart, from the source tree, installs the legacy operator, which
// reconciles the MigrationController; on plain Kubernetes both charts refuse before creating anything.
func TestIntegrationLegacyInstallAndKubernetesRefusal(t *testing.T) {
	t.Parallel()
	l := lab(t, "helm")
	ctx := ctxFor(t)
	t.Run("ocp3", func(t *testing.T) {
		e := cluster(t, l, localcluster.Flavour{Kind: localcluster.OCP3})
		if err := lifecycle.CreateNamespaces(ctx, e, "legacy-shop"); err != nil {
			t.Fatal(err)
		}
		// This story installs from the source tree, as a contributor does; the others install the
		// signed OCI artifacts.
		if _, err := l.Install(ctx, e, l.ChartDir("mtc-1.7"), l.Values("ocp3-remote.yaml")); err != nil {
			t.Fatal(err)
		}
		dep, err := e.Client.AppsV1().Deployments(ns).Get(ctx, "migration-operator", metav1.GetOptions{})
		if err != nil || dep.Status.AvailableReplicas < 1 {
			t.Fatalf("legacy operator Deployment: %v (available %d)", err, dep.Status.AvailableReplicas)
		}
		spec, err := lifecycle.MigrationControllerSpec(ctx, e)
		if err != nil {
			t.Fatal(err)
		}
		if spec["version"] == nil || !strings.HasPrefix(spec["version"].(string), "1.7") {
			t.Errorf("the legacy operator did not reconcile the MigrationController: spec.version = %v", spec["version"])
		}
		// The legacy operator writes its version before it creates Velero; the install returns once
		// Velero runs, restic on every node.
		if velero, err := e.Client.AppsV1().Deployments(ns).Get(ctx, "velero", metav1.GetOptions{}); err != nil {
			t.Errorf("Deployment velero after the install: %v", err)
		} else if velero.Status.AvailableReplicas < 1 {
			t.Errorf("Deployment velero after the install: %d replicas available", velero.Status.AvailableReplicas)
		}
		if restic, err := e.Client.AppsV1().DaemonSets(ns).Get(ctx, "restic", metav1.GetOptions{}); err != nil {
			t.Errorf("DaemonSet restic after the install: %v", err)
		} else if st := restic.Status; st.DesiredNumberScheduled == 0 || st.NumberReady != st.DesiredNumberScheduled {
			t.Errorf("DaemonSet restic after the install: %d of %d pods ready", st.NumberReady, st.DesiredNumberScheduled)
		}
		// The empty project node selector lets restic run on every node, as operator.yml's Namespace has it.
		nsObj, err := e.Client.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if v, ok := nsObj.Annotations["openshift.io/node-selector"]; !ok || v != "" {
			t.Errorf("namespace %s: openshift.io/node-selector = %q (set %v), want the empty selector", ns, v, ok)
		}
		if _, err := l.Run(ctx, e, "helm", "uninstall", "mtc", "-n", ns, "--timeout", "4m"); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("kubernetes", func(t *testing.T) {
		e := cluster(t, l, localcluster.Flavour{Kind: localcluster.Kubernetes})
		for _, chart := range []string{"mtc-1.8", "mtc-1.7"} {
			out, err := l.Run(ctx, e, "helm", "install", "mtc", l.Chart(chart), "-n", ns, "--create-namespace", "--timeout", "2m", "-f", noRemotes(t, l, e))
			if err == nil {
				t.Fatalf("%s installed on plain Kubernetes", chart)
			}
			if !strings.Contains(out, "OpenShift") {
				t.Errorf("%s: the refusal does not say OpenShift is needed:\n%s", chart, out)
			}
			if err := lifecycle.ReleaseObjectsAbsent(ctx, e); err != nil {
				t.Errorf("%s: %v", chart, err)
			}
			_, _ = l.Run(ctx, e, "helm", "uninstall", "mtc", "-n", ns)
		}
	})
}

// A running migration blocks the uninstall, which deletes nothing; once it ends the uninstall
// goes through, exports the records and leaves the cluster as it was. A second install removed
// with --no-hooks and then mtc-hooks cleanup from a workstation ends clean too.
func TestIntegrationUninstallSafety(t *testing.T) {
	t.Parallel()
	bothHelms(t, func(t *testing.T, l *lifecycle.Lab) {
		ctx := ctxFor(t)
		e := cluster(t, l, ocp417)
		local := noRemotes(t, l, e)
		before, err := lifecycle.Take(ctx, e.Cluster.Config)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := l.Install(ctx, e, "mtc-1.8", l.Values("control.yaml"), local); err != nil {
			t.Fatal(err)
		}
		if err := lifecycle.StartMigration(ctx, e); err != nil {
			t.Fatal(err)
		}
		out, err := l.Run(ctx, e, "helm", "uninstall", "mtc", "-n", ns, "--timeout", "3m")
		if err == nil {
			t.Fatalf("uninstall went through during a running migration")
		}
		if !strings.Contains(out, "shop-1") {
			t.Errorf("the refusal does not name the running MigMigration shop-1:\n%s", out)
		}
		if err := l.CheckInstalled(ctx, e, true); err != nil {
			t.Fatalf("the refused uninstall changed the install: %v", err)
		}
		if err := lifecycle.FinishMigration(ctx, e); err != nil {
			t.Fatal(err)
		}
		if _, err := l.Run(ctx, e, "helm", "uninstall", "mtc", "-n", ns, "--timeout", "3m"); err != nil {
			t.Fatal(err)
		}
		if names, err := lifecycle.ExportedRecords(ctx, e, "shop-1"); err != nil {
			t.Fatalf("exported records %v: %v", names, err)
		}
		if err := l.SettleAndCompare(ctx, e, before, lifecycle.UninstallLeftovers(true), 90*time.Second); err != nil {
			t.Fatal(err)
		}

		// The user skips the hooks, then runs the cleanup from a workstation, twice.
		before, err = lifecycle.Take(ctx, e.Cluster.Config)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := l.Install(ctx, e, "mtc-1.8", l.Values("control.yaml"), local); err != nil {
			t.Fatal(err)
		}
		if _, err := l.Run(ctx, e, "helm", "uninstall", "mtc", "-n", ns, "--no-hooks", "--timeout", "3m"); err != nil {
			t.Fatal(err)
		}
		if _, err := l.Run(ctx, e, "mtc-hooks", "cleanup", "--timeout", "3m"); err != nil {
			t.Fatal(err)
		}
		if _, err := l.Run(ctx, e, "mtc-hooks", "cleanup", "--timeout", "1m"); err != nil {
			t.Fatalf("second cleanup: %v", err)
		}
		if err := l.SettleAndCompare(ctx, e, before, lifecycle.UninstallLeftovers(false), 90*time.Second); err != nil {
			t.Fatal(err)
		}
	})
}

// helm rollback returns the MigrationController to the earlier revision's values.
func TestIntegrationRollback(t *testing.T) {
	t.Parallel()
	bothHelms(t, func(t *testing.T, l *lifecycle.Lab) {
		ctx := ctxFor(t)
		e := cluster(t, l, ocp417)
		if err := lifecycle.CreateNamespaces(ctx, e, "shop", "billing"); err != nil {
			t.Fatal(err)
		}
		local := noRemotes(t, l, e)
		if _, err := l.Install(ctx, e, "mtc-1.8", l.Values("control.yaml"), local); err != nil {
			t.Fatal(err)
		}
		first, err := lifecycle.MigrationControllerSpec(ctx, e)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := l.Run(ctx, e, "helm", "upgrade", "mtc", l.Chart("mtc-1.8"), "-n", ns, "--timeout", "4m",
			"-f", l.Values("control.yaml"), "-f", l.Values("dvm-proxy.yaml"), "-f", local); err != nil {
			t.Fatal(err)
		}
		if _, err := l.Run(ctx, e, "helm", "rollback", "mtc", "1", "-n", ns, "--timeout", "4m"); err != nil {
			t.Fatal(err)
		}
		// The configure hook runs on install and upgrade; a rollback re-applies revision 1's
		// ConfigMap through it when the chart hooks post-rollback too, otherwise the next upgrade does.
		var last []string
		err = wait.PollUntilContextTimeout(ctx, time.Second, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
			now, err := lifecycle.MigrationControllerSpec(ctx, e)
			if err != nil {
				return false, nil
			}
			last = lifecycle.SpecChanges(first, now)
			return len(last) == 0, nil
		})
		if err != nil {
			t.Fatalf("after the rollback the MigrationController still differs from revision 1 in %v", last)
		}
	})
}

// 1.7 to 1.8 on OpenShift 4.17: the chart switches MTC's channel; OLM keeps 1.7.19 without a word
// while the OADP Subscription it created for 1.7 stays on a channel whose OADP 1.8 excludes, so
// configure refuses after its progress bound naming that Subscription, the user switches OADP's
// channel as MTC's upgrade notes tell, and the same helm upgrade then goes through to 1.8.
func TestIntegrationUpgrade17To18(t *testing.T) {
	t.Parallel()
	bothHelms(t, func(t *testing.T, l *lifecycle.Lab) {
		ctx := ctxFor(t)
		e := cluster(t, l, ocp417)
		local := noRemotes(t, l, e)
		if _, err := l.Install(ctx, e, "mtc-1.7", l.Values("control.yaml"), local); err != nil {
			t.Fatal(err)
		}
		upgrade := []string{"upgrade", "mtc", l.Chart("mtc-1.8"), "-n", ns, "--timeout", "4m", "-f", l.Values("control.yaml"), "-f", local}
		out, err := l.Run(ctx, e, "helm", upgrade...)
		if err == nil {
			t.Fatalf("the upgrade went through while OADP stays on the 1.7 channel:\n%s", out)
		}
		oadpSub := ""
		for _, s := range subscriptionsByPackage(t, e)["redhat-oadp-operator"] {
			oadpSub = s
		}
		if oadpSub == "" || !strings.Contains(out, "the installed CSV is still mtc-operator.v1.7.19, not one of MTC 1.8") || !strings.Contains(out, "Subscription "+oadpSub+" follows OADP channel stable-1.0") {
			t.Fatalf("want configure's refusal naming OLM's message and the OADP Subscription %q:\n%s", oadpSub, out)
		}
		cat, err := catalog.For("4.17")
		if err != nil {
			t.Fatal(err)
		}
		oadpChannel := cat.DefaultChannel(catalog.OADPPackage)
		if _, err := l.Run(ctx, e, "kubectl", "patch", "subscription", oadpSub, "-n", ns, "--type", "merge", "-p", `{"spec":{"channel":"`+oadpChannel+`"}}`); err != nil {
			t.Fatal(err)
		}
		out, err = l.Run(ctx, e, "helm", upgrade...)
		if err != nil {
			t.Fatal(err)
		}
		l.Show(out, "STATUS:")
		channels := map[string]string{}
		for pkg, names := range subscriptionsByPackage(t, e) {
			channels[pkg] = strings.Join(names, ",")
		}
		if err := l.CheckInstalled(ctx, e, true); err != nil {
			t.Fatal(err)
		}
		sub, err := e.Dynamic.Resource(subscriptionsGVR).Namespace(ns).Get(ctx, "mtc-operator", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if ch := nestedString(sub, "spec", "channel"); ch != "release-v1.8" {
			t.Errorf("mtc-operator channel %q, want release-v1.8", ch)
		}
		spec, _ := lifecycle.MigrationControllerSpec(ctx, e)
		if v, _ := spec["version"].(string); !strings.HasPrefix(v, "1.8") {
			t.Errorf("operator version after the upgrade %q, want 1.8.z (subscriptions: %v)", v, channels)
		}
	})
}

// subscriptionsByPackage lists the Subscriptions of the MTC namespace by package.
func subscriptionsByPackage(t *testing.T, e *testenv.Env) map[string][]string {
	t.Helper()
	list, err := e.Dynamic.Resource(subscriptionsGVR).Namespace(ns).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	for _, s := range list.Items {
		pkg := nestedString(&s, "spec", "name")
		out[pkg] = append(out[pkg], s.GetName())
	}
	return out
}

func nestedString(u *unstructured.Unstructured, fields ...string) string {
	s, _, _ := unstructured.NestedString(u.Object, fields...)
	return s
}

// Two clusters: the control cluster's version check reads the remote's MTC line through the
// remote's migration-controller token and refuses a mismatch.
func TestIntegrationTwoClustersVersionMismatch(t *testing.T) {
	t.Parallel()
	l := lab(t, "helm")
	ctx := ctxFor(t)
	remote := cluster(t, l, ocp417)
	control := cluster(t, l, ocp417)
	if _, err := l.Install(ctx, remote, "mtc-1.7", l.Values("remote.yaml")); err != nil {
		t.Fatal(err)
	}
	var token []byte
	err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		s, err := remote.Client.CoreV1().Secrets(ns).Get(ctx, "migration-controller-token", metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		token = s.Data["token"]
		return len(token) > 0, nil
	})
	if err != nil {
		t.Fatalf("the remote's token Secret got no token: %v", err)
	}
	values, err := l.LocalValues(control, "remote-source.yaml", map[string]any{"remoteClusters": map[string]any{
		"source": map[string]any{"url": remote.Cluster.URL, "token": string(token), "caBundle": string(remote.Cluster.Config.CAData)},
	}})
	if err != nil {
		t.Fatal(err)
	}
	out, err := l.Run(ctx, control, "helm", "install", "mtc", l.Chart("mtc-1.8"), "-n", ns, "--create-namespace", "--timeout", "3m",
		"-f", l.Values("control.yaml"), "-f", values)
	if err == nil {
		t.Fatalf("control on 1.8 installed although its remote runs 1.7")
	}
	if !strings.Contains(out, "source") || !strings.Contains(out, "1.7") {
		t.Errorf("the refusal does not name the remote and its MTC line:\n%s", out)
	}
	if err := lifecycle.ReleaseObjectsAbsent(ctx, control); err != nil {
		t.Error(err)
	}

}

// The export a helm uninstall leaves brings back, on a reinstalled MTC, every MigPlan, MigStorage,
// remote MigCluster and MigHook with its spec: mtc-hooks restore re-creates them without owner
// references, so nothing garbage-collects them afterwards, and a second restore creates nothing.
func TestIntegrationExportRestoreRoundTrip(t *testing.T) {
	t.Parallel()
	l := lab(t, "helm4")
	ctx := ctxFor(t)
	e := cluster(t, l, ocp417)
	local := noRemotes(t, l, e)
	if _, err := l.Install(ctx, e, "mtc-1.8", l.Values("control.yaml"), local); err != nil {
		t.Fatal(err)
	}
	mtc := func(resource string) schema.GroupVersionResource {
		return schema.GroupVersionResource{Group: "migration.openshift.io", Version: "v1alpha1", Resource: resource}
	}
	users := []*unstructured.Unstructured{
		{Object: map[string]any{"apiVersion": "migration.openshift.io/v1alpha1", "kind": "MigCluster", "metadata": map[string]any{"name": "source", "namespace": ns},
			"spec": map[string]any{"isHostCluster": false, "url": "https://api.source.example.com:6443", "insecure": true,
				"serviceAccountSecretRef": map[string]any{"name": "source-token", "namespace": "openshift-config"}}}},
		{Object: map[string]any{"apiVersion": "migration.openshift.io/v1alpha1", "kind": "MigHook", "metadata": map[string]any{"name": "quiesce", "namespace": ns},
			"spec": map[string]any{"custom": true, "image": "quay.io/example/quiesce:1", "targetCluster": "source", "activeDeadlineSeconds": int64(1800)}}},
		{Object: map[string]any{"apiVersion": "migration.openshift.io/v1alpha1", "kind": "MigPlan", "metadata": map[string]any{"name": "shop", "namespace": ns},
			"spec": map[string]any{"namespaces": []any{"shop"}, "srcMigClusterRef": map[string]any{"name": "source", "namespace": ns},
				"destMigClusterRef": map[string]any{"name": "host", "namespace": ns}, "migStorageRef": map[string]any{"name": "replication-repository", "namespace": ns}}}},
	}
	for _, u := range users {
		if _, err := e.Dynamic.Resource(mtc(strings.ToLower(u.GetKind())+"s")).Namespace(ns).Create(ctx, u, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	// What the restore must bring back: every plan, storage, remote cluster and hook, with its spec.
	specs := map[string]any{}
	for _, r := range []string{"migplans", "migstorages", "migclusters", "mighooks"} {
		list, err := e.Dynamic.Resource(mtc(r)).Namespace(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, u := range list.Items {
			if host, _, _ := unstructured.NestedBool(u.Object, "spec", "isHostCluster"); host {
				continue
			}
			specs[r+"/"+u.GetName()] = u.Object["spec"]
		}
	}
	if len(specs) != 4 {
		t.Fatalf("before the uninstall: %d objects to bring back, want 4 (%v)", len(specs), specs)
	}
	if _, err := l.Run(ctx, e, "helm", "uninstall", "mtc", "-n", ns, "--timeout", "4m"); err != nil {
		t.Fatal(err)
	}
	cms, err := e.Client.CoreV1().ConfigMaps(ns).List(ctx, metav1.ListOptions{LabelSelector: "mtc-helm.io/export-complete=true"})
	if err != nil || len(cms.Items) == 0 {
		t.Fatalf("no complete export after the uninstall: %v", err)
	}
	stamp := cms.Items[0].Labels["mtc-helm.io/export"]
	if _, err := l.Install(ctx, e, "mtc-1.8", l.Values("control.yaml"), local); err != nil {
		t.Fatal(err)
	}
	out, err := l.Run(ctx, e, "mtc-hooks", "restore", "--export", stamp)
	if err != nil {
		t.Fatal(err)
	}
	for key, spec := range specs {
		r, name, _ := strings.Cut(key, "/")
		u, err := e.Dynamic.Resource(mtc(r)).Namespace(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatalf("%s after the restore: %v\n%s", key, err, out)
		}
		if len(u.GetOwnerReferences()) != 0 {
			t.Errorf("%s came back with owner references %v, which garbage collection follows", key, u.GetOwnerReferences())
		}
		if !equality.Semantic.DeepEqual(u.Object["spec"], spec) {
			t.Errorf("%s came back with spec %v, want %v", key, u.Object["spec"], spec)
		}
	}
	again, err := l.Run(ctx, e, "mtc-hooks", "restore", "--export", stamp, "-o", "json")
	if err != nil || !strings.Contains(again, `"created": null`) {
		t.Fatalf("a second restore created something or failed: %v\n%s", err, again)
	}
}

// On a cluster whose MTC was installed by hand (OperatorGroup, a Subscription under a name of the
// user's, MigrationController and a plan), helm install is refused by version-check, and the helm
// uninstall that frees the failed release's name leaves that MTC exactly as it was: no export,
// nothing deleted, compared object by object. (A hand-made Subscription named mtc-operator, as the
// chart's, makes Helm itself refuse before any hook runs and record no release.) The documented
// takeover then works: mtc-hooks cleanup, helm install, mtc-hooks restore brings the plan back.
func TestIntegrationHandInstalledMTCSurvivesRefusedRelease(t *testing.T) {
	t.Parallel()
	l := lab(t, "helm4")
	ctx := ctxFor(t)
	e := cluster(t, l, ocp417)
	if err := lifecycle.InstallByHand(ctx, e, "mtc-by-hand"); err != nil {
		t.Fatal(err)
	}
	before, err := lifecycle.Take(ctx, e.Cluster.Config)
	if err != nil {
		t.Fatal(err)
	}
	local := noRemotes(t, l, e)
	out, err := l.Run(ctx, e, "helm", "install", "mtc", l.Chart("mtc-1.8"), "-n", ns, "-f", l.Values("control.yaml"), "-f", local, "--timeout", "3m")
	if err == nil {
		t.Fatal("helm install went through over an MTC installed by hand")
	}
	if !strings.Contains(out, "Subscription openshift-migration/mtc-by-hand") {
		t.Errorf("the refusal does not name the hand-made Subscription:\n%s", out)
	}
	out, err = l.Run(ctx, e, "helm", "uninstall", "mtc", "-n", ns, "--timeout", "3m")
	if err != nil {
		t.Fatalf("helm uninstall of the refused release: %v\n%s", err, out)
	}
	if names, _ := lifecycle.ExportedRecords(ctx, e, ""); len(names) != 0 {
		t.Errorf("the uninstall exported the hand-made MTC: %v", names)
	}
	if err := l.SettleAndCompare(ctx, e, before, lifecycle.RefusedInstallLeftovers, 20*time.Second); err != nil {
		t.Fatal(err)
	}

	// The documented takeover: remove the hand-made MTC with mtc-hooks cleanup (it exports the plan),
	// install the chart, and bring the plan back with mtc-hooks restore.
	if out, err := l.Run(ctx, e, "mtc-hooks", "cleanup", "--timeout", "4m"); err != nil {
		t.Fatalf("mtc-hooks cleanup of the hand-made MTC: %v\n%s", err, out)
	}
	if _, err := lifecycle.ExportedRecords(ctx, e, "hand-made"); err != nil {
		t.Fatal(err)
	}
	cms, err := e.Client.CoreV1().ConfigMaps(ns).List(ctx, metav1.ListOptions{LabelSelector: "mtc-helm.io/export-complete=true"})
	if err != nil || len(cms.Items) == 0 {
		t.Fatalf("no complete export after the cleanup: %v", err)
	}
	if _, err := l.Install(ctx, e, "mtc-1.8", l.Values("control.yaml"), local); err != nil {
		t.Fatalf("helm install after mtc-hooks cleanup removed the hand-made MTC: %v", err)
	}
	if out, err := l.Run(ctx, e, "mtc-hooks", "restore", "--export", cms.Items[0].Labels["mtc-helm.io/export"]); err != nil {
		t.Fatalf("mtc-hooks restore: %v\n%s", err, out)
	}
	migplans := schema.GroupVersionResource{Group: "migration.openshift.io", Version: "v1alpha1", Resource: "migplans"}
	plan, err := e.Dynamic.Resource(migplans).Namespace(ns).Get(ctx, "hand-made", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("the hand-made plan after the takeover: %v", err)
	}
	if got := plan.Object["spec"].(map[string]any)["namespaces"]; !reflect.DeepEqual(got, []any{"shop"}) {
		t.Errorf("the plan came back with namespaces %v, want [shop]", got)
	}
}
