package olm_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"

	"github.com/mtc-helm/mtc-helm/internal/doubles/conditions"
	dt "github.com/mtc-helm/mtc-helm/internal/doubles/doubletest"
	"github.com/mtc-helm/mtc-helm/internal/doubles/olm"
	"github.com/mtc-helm/mtc-helm/internal/localcluster"
	"github.com/mtc-helm/mtc-helm/internal/mtccrds"
	"github.com/mtc-helm/mtc-helm/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

var crds = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}

const wait = 90 * time.Second

func operatorGroup(ns string) *unstructured.Unstructured {
	return dt.Obj("operators.coreos.com/v1", "OperatorGroup", ns, ns, map[string]any{
		"spec": map[string]any{"targetNamespaces": []any{ns}}})
}

func subscription(ns, name, pkg, channel, approval, source string, extra map[string]any) *unstructured.Unstructured {
	spec := map[string]any{"name": pkg, "channel": channel, "source": source, "sourceNamespace": "openshift-marketplace", "installPlanApproval": approval}
	for k, v := range extra {
		spec[k] = v
	}
	return dt.Obj("operators.coreos.com/v1alpha1", "Subscription", ns, name, map[string]any{"spec": spec})
}

// csvSucceeded waits for a CSV to reach Succeeded.
func csvSucceeded(t *testing.T, e *testenv.Env, ns, name string) *unstructured.Unstructured {
	t.Helper()
	var csv *unstructured.Unstructured
	dt.Eventually(t, wait, "CSV "+ns+"/"+name+" Succeeded", func(ctx context.Context) (bool, string) {
		u, note := dt.Get(ctx, e, olm.CSVs, ns, name)
		if u == nil {
			return false, note
		}
		csv = u
		p := dt.Str(u, "status", "phase")
		return p == olm.PhaseSucceeded, "phase " + p + ": " + dt.Str(u, "status", "message")
	})
	return csv
}

func ownedByUID(refs []metav1.OwnerReference, uid types.UID) bool {
	return slices.ContainsFunc(refs, func(r metav1.OwnerReference) bool { return r.UID == uid })
}

func established(ctx context.Context, e *testenv.Env, name string) (bool, string) {
	u, note := dt.Get(ctx, e, crds, "", name)
	if u == nil {
		return false, note
	}
	return conditions.IsTrue(u, "Established"), "CRD " + name + " not Established"
}

// TestIntegrationOLMDouble runs the OLM double on OpenShift 4.17 through the paths the chart and
// the hooks rely on, each in its own namespace.
func TestIntegrationOLMDouble(t *testing.T) {
	e := dt.Env(t, localcluster.Flavour{Kind: localcluster.OCP4, Version: "4.17"})
	ctx := context.Background()

	t.Run("automatic install resolves OADP, and removal leaves CRDs", func(t *testing.T) {
		t.Parallel()
		ns := "olm-auto"
		dt.Namespace(t, e, ns)
		dt.Create(t, e, olm.OperatorGroups, operatorGroup(ns))
		dt.Create(t, e, olm.Subscriptions, subscription(ns, "mtc-operator", "mtc-operator", "release-v1.8", "Automatic", "redhat-operators", nil))

		csv := csvSucceeded(t, e, ns, "mtc-operator.v1.8.11")
		if csv.GetAnnotations()[olm.DoubleAnnotation] != "olm" {
			t.Errorf("CSV lacks the double annotation: %v", csv.GetAnnotations())
		}
		var sub *unstructured.Unstructured
		dt.Eventually(t, wait, "Subscription AtLatestKnown", func(ctx context.Context) (bool, string) {
			sub, _ = dt.Get(ctx, e, olm.Subscriptions, ns, "mtc-operator")
			if sub == nil {
				return false, "no subscription"
			}
			return dt.Str(sub, "status", "state") == olm.StateAtLatestKnown && dt.Str(sub, "status", "installedCSV") == "mtc-operator.v1.8.11",
				fmt.Sprint(sub.Object["status"])
		})
		plan := dt.Str(sub, "status", "installPlanRef", "name")
		if plan == "" || dt.Str(sub, "status", "installplan", "name") != plan || dt.Str(sub, "status", "currentCSV") != "mtc-operator.v1.8.11" {
			t.Fatalf("Subscription status does not point at its InstallPlan: %v", sub.Object["status"])
		}
		ip, note := dt.Get(ctx, e, olm.InstallPlans, ns, plan)
		if ip == nil {
			t.Fatal(note)
		}
		names, _, _ := unstructured.NestedStringSlice(ip.Object, "spec", "clusterServiceVersionNames")
		if !slices.Equal(names, []string{"mtc-operator.v1.8.11", "oadp-operator.v1.2.5"}) || dt.Str(ip, "status", "phase") != olm.PlanComplete || dt.Str(ip, "spec", "approval") != "Automatic" {
			t.Errorf("InstallPlan %s: csvs %v, phase %s, approval %s", plan, names, dt.Str(ip, "status", "phase"), dt.Str(ip, "spec", "approval"))
		}

		// OLM created a Subscription for the dependency, from a channel that satisfies >=1.2.0 <1.3.0.
		oadpSub := "redhat-oadp-operator-stable-1.2-redhat-operators-openshift-marketplace"
		if u, note := dt.Get(ctx, e, olm.Subscriptions, ns, oadpSub); u == nil {
			t.Fatalf("no Subscription for the OADP dependency: %s", note)
		} else if dt.Str(u, "spec", "name") != "redhat-oadp-operator" || dt.Str(u, "spec", "channel") != "stable-1.2" {
			t.Errorf("OADP Subscription spec: %v", u.Object["spec"])
		}
		oadp := csvSucceeded(t, e, ns, "oadp-operator.v1.2.5")
		if dt.Str(oadp, "spec", "displayName") != "OADP Operator" {
			t.Errorf("OADP CSV displayName %q", dt.Str(oadp, "spec", "displayName"))
		}

		// The operator Deployments belong to their CSVs.
		for _, c := range []struct {
			dep, image string
			csv        *unstructured.Unstructured
		}{
			{"migration-operator", "registry.redhat.io/rhmtc/openshift-migration-rhel8-operator:v1.8", csv},
			{"openshift-adp-controller-manager", "registry.redhat.io/oadp/oadp-rhel8-operator:v1.2", oadp},
		} {
			d, err := e.Client.AppsV1().Deployments(ns).Get(ctx, c.dep, metav1.GetOptions{})
			if err != nil {
				t.Fatalf("operator Deployment %s: %v", c.dep, err)
			}
			if !ownedByUID(d.OwnerReferences, c.csv.GetUID()) || d.Spec.Template.Spec.Containers[0].Image != c.image || d.Labels["olm.owner"] != c.csv.GetName() {
				t.Errorf("Deployment %s: owners %v, image %s, labels %v", c.dep, d.OwnerReferences, d.Spec.Template.Spec.Containers[0].Image, d.Labels)
			}
		}
		sa, err := e.Client.CoreV1().ServiceAccounts(ns).Get(ctx, "migration-operator", metav1.GetOptions{})
		if err != nil || !ownedByUID(sa.OwnerReferences, csv.GetUID()) {
			t.Errorf("ServiceAccount migration-operator not owned by the CSV: %v %v", err, sa)
		}
		// The CRDs both bundles own.
		var want []string
		for _, k := range append(append(append([]mtccrds.Kind{}, mtccrds.MTC...), mtccrds.Velero...), olm.DataProtectionApplication, olm.CloudStorage) {
			want = append(want, k.Name())
		}
		for _, n := range want {
			if ok, note := established(ctx, e, n); !ok {
				t.Errorf("%s", note)
			}
		}

		// Deleting the Subscription leaves the CSV; deleting the CSV takes its Deployment (GC) and
		// leaves the CRDs.
		if err := e.Dynamic.Resource(olm.Subscriptions).Namespace(ns).Delete(ctx, "mtc-operator", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		dt.Never(t, 2*time.Second, "CSV removed with its Subscription", func(ctx context.Context) (bool, string) {
			u, note := dt.Get(ctx, e, olm.CSVs, ns, "mtc-operator.v1.8.11")
			return u == nil || u.GetDeletionTimestamp() != nil, note
		})
		if err := e.Dynamic.Resource(olm.CSVs).Namespace(ns).Delete(ctx, "mtc-operator.v1.8.11", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		dt.Eventually(t, wait, "operator Deployment garbage-collected with its CSV", func(ctx context.Context) (bool, string) {
			return dt.Gone(ctx, e, schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}, ns, "migration-operator")
		})
		dt.Never(t, 2*time.Second, "CSV reinstalled or CRDs removed", func(ctx context.Context) (bool, string) {
			if u, _ := dt.Get(ctx, e, olm.CSVs, ns, "mtc-operator.v1.8.11"); u != nil {
				return true, "the CSV came back"
			}
			for _, n := range want {
				if ok, note := established(ctx, e, n); !ok {
					return true, note
				}
			}
			return false, ""
		})
	})

	t.Run("manual approval holds the InstallPlan, startingCSV is honoured", func(t *testing.T) {
		t.Parallel()
		ns := "olm-manual"
		dt.Namespace(t, e, ns)
		dt.Create(t, e, olm.OperatorGroups, operatorGroup(ns))
		dt.Create(t, e, olm.Subscriptions, subscription(ns, "mtc-operator", "mtc-operator", "release-v1.8", "Manual", "redhat-operators",
			map[string]any{"startingCSV": "mtc-operator.v1.8.5"}))
		var plan string
		dt.Eventually(t, wait, "InstallPlan RequiresApproval", func(ctx context.Context) (bool, string) {
			sub, note := dt.Get(ctx, e, olm.Subscriptions, ns, "mtc-operator")
			if sub == nil {
				return false, note
			}
			plan = dt.Str(sub, "status", "installPlanRef", "name")
			if plan == "" {
				return false, "no InstallPlan yet"
			}
			ip, note := dt.Get(ctx, e, olm.InstallPlans, ns, plan)
			if ip == nil {
				return false, note
			}
			return dt.Str(ip, "status", "phase") == olm.PlanRequiresApproval && dt.Str(sub, "status", "state") == olm.StateUpgradePending &&
				dt.Str(sub, "status", "currentCSV") == "mtc-operator.v1.8.5", fmt.Sprint(ip.Object["status"], sub.Object["status"])
		})
		dt.Never(t, 3*time.Second, "installed without approval", func(ctx context.Context) (bool, string) {
			l, err := e.Dynamic.Resource(olm.CSVs).Namespace(ns).List(ctx, metav1.ListOptions{})
			if err != nil {
				return false, ""
			}
			return len(l.Items) > 0, fmt.Sprintf("%d CSVs exist", len(l.Items))
		})
		if _, err := e.Dynamic.Resource(olm.InstallPlans).Namespace(ns).Patch(ctx, plan, types.MergePatchType, []byte(`{"spec":{"approved":true}}`), metav1.PatchOptions{}); err != nil {
			t.Fatal(err)
		}
		csvSucceeded(t, e, ns, "mtc-operator.v1.8.5")
		// The channel head is newer: OLM proposes the upgrade, again for approval.
		dt.Eventually(t, wait, "upgrade InstallPlan to the head waits for approval", func(ctx context.Context) (bool, string) {
			sub, note := dt.Get(ctx, e, olm.Subscriptions, ns, "mtc-operator")
			if sub == nil {
				return false, note
			}
			next := dt.Str(sub, "status", "installPlanRef", "name")
			return next != plan && dt.Str(sub, "status", "currentCSV") == "mtc-operator.v1.8.11" && dt.Str(sub, "status", "installedCSV") == "mtc-operator.v1.8.5",
				fmt.Sprint(sub.Object["status"])
		})
	})

	t.Run("a missing catalog fails resolution", func(t *testing.T) {
		t.Parallel()
		ns := "olm-nocatalog"
		dt.Namespace(t, e, ns)
		dt.Create(t, e, olm.OperatorGroups, operatorGroup(ns))
		dt.Create(t, e, olm.Subscriptions, subscription(ns, "mtc-operator", "mtc-operator", "release-v1.8", "Automatic", "mtc-mirror", nil))
		dt.Eventually(t, wait, "CatalogSourcesUnhealthy and ResolutionFailed", func(ctx context.Context) (bool, string) {
			sub, note := dt.Get(ctx, e, olm.Subscriptions, ns, "mtc-operator")
			if sub == nil {
				return false, note
			}
			return conditions.IsTrue(sub, olm.CondCatalogUnhealthy) && conditions.IsTrue(sub, olm.CondResolutionFailed), fmt.Sprint(sub.Object["status"])
		})
		// The mirror appears: the Subscription resolves through it.
		dt.Create(t, e, olm.CatalogSources, dt.Obj("operators.coreos.com/v1alpha1", "CatalogSource", "openshift-marketplace", "mtc-mirror",
			map[string]any{"spec": map[string]any{"sourceType": "grpc", "image": "mirror.example.com/redhat/redhat-operator-index:v4.17"}}))
		csvSucceeded(t, e, ns, "mtc-operator.v1.8.11")
	})

	t.Run("an OperatorGroup is needed, with OwnNamespace", func(t *testing.T) {
		t.Parallel()
		ns := "olm-noog"
		dt.Namespace(t, e, ns)
		dt.Create(t, e, olm.Subscriptions, subscription(ns, "mtc-operator", "mtc-operator", "release-v1.8", "Automatic", "redhat-operators", nil))
		dt.Eventually(t, wait, "CSV Failed NoOperatorGroup", func(ctx context.Context) (bool, string) {
			u, note := dt.Get(ctx, e, olm.CSVs, ns, "mtc-operator.v1.8.11")
			if u == nil {
				return false, note
			}
			return dt.Str(u, "status", "phase") == olm.PhaseFailed && dt.Str(u, "status", "reason") == "NoOperatorGroup", fmt.Sprint(u.Object["status"])
		})
		// An AllNamespaces group does not fit MTC.
		dt.Create(t, e, olm.OperatorGroups, dt.Obj("operators.coreos.com/v1", "OperatorGroup", ns, "global", map[string]any{"spec": map[string]any{}}))
		dt.Eventually(t, wait, "CSV Failed UnsupportedOperatorGroup", func(ctx context.Context) (bool, string) {
			u, note := dt.Get(ctx, e, olm.CSVs, ns, "mtc-operator.v1.8.11")
			if u == nil {
				return false, note
			}
			return dt.Str(u, "status", "reason") == "UnsupportedOperatorGroup", fmt.Sprint(u.Object["status"])
		})
		if err := e.Dynamic.Resource(olm.OperatorGroups).Namespace(ns).Delete(ctx, "global", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		dt.Create(t, e, olm.OperatorGroups, operatorGroup(ns))
		csvSucceeded(t, e, ns, "mtc-operator.v1.8.11")
	})

	t.Run("upgrade 1.7 to 1.8 needs OADP's channel switched, then replaces the CSV", func(t *testing.T) {
		t.Parallel()
		ns := "olm-upgrade"
		dt.Namespace(t, e, ns)
		dt.Create(t, e, olm.OperatorGroups, operatorGroup(ns))
		dt.Create(t, e, olm.Subscriptions, subscription(ns, "redhat-oadp-operator", "redhat-oadp-operator", "stable-1.0", "Automatic", "redhat-operators", nil))
		dt.Create(t, e, olm.Subscriptions, subscription(ns, "mtc-operator", "mtc-operator", "release-v1.7", "Automatic", "redhat-operators", nil))
		old := csvSucceeded(t, e, ns, "mtc-operator.v1.7.19")
		csvSucceeded(t, e, ns, "oadp-operator.v1.0.17")
		l, err := e.Dynamic.Resource(olm.Subscriptions).Namespace(ns).List(ctx, metav1.ListOptions{})
		if err != nil || len(l.Items) != 2 {
			t.Fatalf("the pinned OADP Subscription should satisfy the dependency, not a new one: %v, %d Subscriptions", err, len(l.Items))
		}

		patch := func(name, channel string) {
			t.Helper()
			body := fmt.Sprintf(`{"spec":{"channel":%q}}`, channel)
			if _, err := e.Dynamic.Resource(olm.Subscriptions).Namespace(ns).Patch(ctx, name, types.MergePatchType, []byte(body), metav1.PatchOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		patch("mtc-operator", "release-v1.8")
		dt.Eventually(t, wait, "ResolutionFailed while OADP stays on stable-1.0", func(ctx context.Context) (bool, string) {
			sub, note := dt.Get(ctx, e, olm.Subscriptions, ns, "mtc-operator")
			if sub == nil {
				return false, note
			}
			return conditions.IsTrue(sub, olm.CondResolutionFailed), fmt.Sprint(sub.Object["status"])
		})
		patch("redhat-oadp-operator", "stable-1.2")
		csv := csvSucceeded(t, e, ns, "mtc-operator.v1.8.11")
		csvSucceeded(t, e, ns, "oadp-operator.v1.2.5")
		if dt.Str(csv, "spec", "replaces") != "mtc-operator.v1.7.19" {
			t.Errorf("new CSV replaces %q", dt.Str(csv, "spec", "replaces"))
		}
		for _, gone := range []string{"mtc-operator.v1.7.19", "oadp-operator.v1.0.17"} {
			dt.Eventually(t, wait, "replaced CSV "+gone+" deleted", func(ctx context.Context) (bool, string) {
				return dt.Gone(ctx, e, olm.CSVs, ns, gone)
			})
		}
		dt.Eventually(t, wait, "the Deployment follows the new CSV", func(ctx context.Context) (bool, string) {
			d, err := e.Client.AppsV1().Deployments(ns).Get(ctx, "migration-operator", metav1.GetOptions{})
			if err != nil {
				return false, err.Error()
			}
			ok := ownedByUID(d.OwnerReferences, csv.GetUID()) && !ownedByUID(d.OwnerReferences, old.GetUID()) &&
				d.Spec.Template.Spec.Containers[0].Image == "registry.redhat.io/rhmtc/openshift-migration-rhel8-operator:v1.8" && available(d)
			return ok, fmt.Sprintf("owners %v image %s", d.OwnerReferences, d.Spec.Template.Spec.Containers[0].Image)
		})
	})
}

func available(d *appsv1.Deployment) bool {
	for _, c := range d.Status.Conditions {
		if c.Type == appsv1.DeploymentAvailable && c.Status == "True" {
			return d.Status.ObservedGeneration >= d.Generation
		}
	}
	return false
}

// TestIntegrationOLMDoubleAPIServerRestart restarts the apiserver while an InstallPlan waits for
// approval: the double goes on where it was.
func TestIntegrationOLMDoubleAPIServerRestart(t *testing.T) {
	e := dt.Env(t, localcluster.Flavour{Kind: localcluster.OCP4, Version: "4.17"})
	ctx := context.Background()
	ns := "olm-restart"
	dt.Namespace(t, e, ns)
	dt.Create(t, e, olm.OperatorGroups, operatorGroup(ns))
	dt.Create(t, e, olm.Subscriptions, subscription(ns, "mtc-operator", "mtc-operator", "release-v1.8", "Manual", "redhat-operators", nil))
	var plan string
	dt.Eventually(t, wait, "InstallPlan waiting for approval", func(ctx context.Context) (bool, string) {
		sub, note := dt.Get(ctx, e, olm.Subscriptions, ns, "mtc-operator")
		if sub == nil {
			return false, note
		}
		plan = dt.Str(sub, "status", "installPlanRef", "name")
		return plan != "", "no InstallPlan yet"
	})
	if err := e.Cluster.RestartAPIServer(ctx, 2*time.Second); err != nil {
		t.Fatalf("restart the apiserver: %v", err)
	}
	dt.Eventually(t, wait, "approve after the restart", func(ctx context.Context) (bool, string) {
		_, err := e.Dynamic.Resource(olm.InstallPlans).Namespace(ns).Patch(ctx, plan, types.MergePatchType, []byte(`{"spec":{"approved":true}}`), metav1.PatchOptions{})
		return err == nil, fmt.Sprint(err)
	})
	csvSucceeded(t, e, ns, "mtc-operator.v1.8.11")
}
