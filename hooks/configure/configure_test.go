package configure

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/mtc-helm/mtc-helm/hooks/kube"
	"github.com/mtc-helm/mtc-helm/hooks/kube/kubefake"
)

const ns = kube.Namespace

const objectsYAML = `apiVersion: migration.openshift.io/v1alpha1
kind: MigrationController
metadata:
  name: migration-controller
  namespace: openshift-migration
spec:
  cluster_name: host
  migration_velero: true
  migration_controller: true
  migration_ui: true
---
apiVersion: migration.openshift.io/v1alpha1
kind: MigStorage
metadata:
  name: repo
spec:
  backupStorageProvider: aws
---
apiVersion: migration.openshift.io/v1alpha1
kind: MigCluster
metadata:
  name: ocp3
spec:
  isHostCluster: false
  url: https://ocp3:8443
`

func obj(apiVersion, kind, namespace, name string, fields map[string]any) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{"apiVersion": apiVersion, "kind": kind}}
	for k, v := range fields {
		u.Object[k] = v
	}
	u.SetName(name)
	if namespace != "" {
		u.SetNamespace(namespace)
	}
	return u
}

func conds(c ...map[string]any) map[string]any {
	l := make([]any, len(c))
	for i := range c {
		l[i] = c[i]
	}
	return map[string]any{"conditions": l}
}

func cond(typ, status, reason string) map[string]any {
	return map[string]any{"type": typ, "status": status, "reason": reason, "message": typ + " says " + reason + "."}
}

func crd(name string, established bool) *unstructured.Unstructured {
	s := "False"
	if established {
		s = "True"
	}
	return obj("apiextensions.k8s.io/v1", "CustomResourceDefinition", "", name,
		map[string]any{"status": conds(cond("Established", s, "InitialNamesAccepted"))})
}

func subscription(fields map[string]any) *unstructured.Unstructured {
	return obj("operators.coreos.com/v1alpha1", "Subscription", ns, "mtc-operator", map[string]any{"status": fields})
}

func csv(name, phase string) *unstructured.Unstructured {
	return obj("operators.coreos.com/v1alpha1", "ClusterServiceVersion", ns, name,
		map[string]any{"status": map[string]any{"phase": phase, "message": "install strategy failed."}})
}

func configMap(operator, objects string) *corev1.ConfigMap {
	return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: ConfigMapName, Namespace: ns},
		Data: map[string]string{OperatorKey: operator, ObjectsKey: objects}}
}

// env is a fake cluster whose "operator" and "controller" set the given status on whatever is applied.
type env struct {
	typed  []runtime.Object
	dyn    []runtime.Object
	status map[string]map[string]any // kind -> status set on apply
	// specVersion, when set, is what the legacy operator writes into the MigrationController spec.
	specVersion string
	// olmProgress and csvGrace set Configure's bounds; csvBackAfter > 0 makes the CSV read
	// Succeeded from that get on (the operator pod came back).
	olmProgress, csvGrace time.Duration
	resolutionGrace       time.Duration
	csvBackAfter          int
	mu                    sync.Mutex
	applied               []string
	opts                  []metav1.PatchOptions
	rv                    int
	run                   map[string]any    // the outcome of the operator's run of the applied MigrationController
	refuse                map[string]string // kind -> the API server's message refusing its apply
	lastRun               map[string]any    // the MigrationController's status at the apply (default: a success)
}

func (e *env) configure() (*Configure, *dynamicfake.FakeDynamicClient) {
	kc := fake.NewClientset(e.typed...)
	dc := kubefake.Dynamic(e.dyn...)
	dc.PrependReactor("patch", "*", func(a k8stesting.Action) (bool, runtime.Object, error) {
		pa := a.(k8stesting.PatchAction)
		if pa.GetPatchType() != types.ApplyPatchType {
			return false, nil, nil
		}
		u := &unstructured.Unstructured{}
		if err := u.UnmarshalJSON(pa.GetPatch()); err != nil {
			return true, nil, err
		}
		if msg, ok := e.refuse[u.GetKind()]; ok {
			return true, nil, apierrors.NewBadRequest(msg)
		}
		e.mu.Lock()
		e.rv++
		u.SetResourceVersion(fmt.Sprint(e.rv))
		e.mu.Unlock()
		if st, ok := e.status[u.GetKind()]; ok && u.GetKind() == "MigrationController" {
			// The conditions right after the apply are the previous run's: a success, whatever the new
			// spec's run will say. The operator's run of the applied spec follows the watch (below).
			u.Object["status"] = healthy["MigrationController"]
			if e.lastRun != nil {
				u.Object["status"] = e.lastRun
			}
			e.mu.Lock()
			e.run = st
			e.mu.Unlock()
		} else if ok {
			// the controller has reconciled the applied spec, and says so as mig-controller does
			cp := map[string]any{"observedDigest": fmt.Sprintf("%x", sha256.Sum256(pa.GetPatch()))}
			for k, v := range st {
				cp[k] = v
			}
			u.Object["status"] = cp
		}
		e.mu.Lock()
		e.applied = append(e.applied, u.GetKind()+"/"+u.GetName())
		e.mu.Unlock()
		tr := dc.Tracker()
		if err := tr.Create(pa.GetResource(), u, pa.GetNamespace()); err != nil {
			if err := tr.Update(pa.GetResource(), u, pa.GetNamespace()); err != nil {
				return true, nil, err
			}
		}
		return true, u, nil
	})
	// The operator runs the applied spec once configure watches: Running with reason Running, then the
	// run's outcome, each a watch event (the watch is registered before the run is played).
	dc.PrependWatchReactor("migrationcontrollers", func(a k8stesting.Action) (bool, watch.Interface, error) {
		wa := a.(k8stesting.WatchAction)
		w, err := dc.Tracker().Watch(wa.GetResource(), wa.GetNamespace())
		if err != nil {
			return true, nil, err
		}
		e.mu.Lock()
		outcome := e.run
		e.run = nil
		e.mu.Unlock()
		if outcome != nil {
			go func() {
				gvr := wa.GetResource()
				for _, st := range []map[string]any{conds(cond("Running", "True", "Running"), cond("Successful", "False", "")), outcome} {
					cur, err := dc.Tracker().Get(gvr, ns, "migration-controller")
					if err != nil {
						return
					}
					u := cur.(*unstructured.Unstructured).DeepCopy()
					u.Object["status"] = st
					if err := dc.Tracker().Update(gvr, u, ns); err != nil {
						return
					}
				}
			}()
		}
		return true, w, nil
	})
	if e.specVersion != "" {
		// The applied object as the legacy operator leaves it: its version written into the spec.
		dc.PrependReactor("get", "migrationcontrollers", func(a k8stesting.Action) (bool, runtime.Object, error) {
			ga := a.(k8stesting.GetAction)
			cur, err := dc.Tracker().Get(ga.GetResource(), ga.GetNamespace(), ga.GetName())
			if err != nil {
				return true, nil, err
			}
			u := cur.(*unstructured.Unstructured).DeepCopy()
			if err := unstructured.SetNestedField(u.Object, e.specVersion, "spec", "version"); err != nil {
				return true, nil, err
			}
			return true, u, nil
		})
	}
	if e.csvBackAfter > 0 {
		gets := 0
		dc.PrependReactor("get", "clusterserviceversions", func(a k8stesting.Action) (bool, runtime.Object, error) {
			e.mu.Lock()
			gets++
			back := gets >= e.csvBackAfter
			e.mu.Unlock()
			if !back {
				return false, nil, nil
			}
			return true, csv(a.(k8stesting.GetAction).GetName(), "Succeeded"), nil
		})
	}
	c := &Configure{Action: kube.Action{Kube: kc, Dynamic: dc, Namespace: ns, Waiter: kube.Waiter{Interval: 5 * time.Millisecond, Timeout: 300 * time.Millisecond}}, OLMProgress: e.olmProgress, CSVGrace: e.csvGrace, ResolutionGrace: e.resolutionGrace, CriticalGrace: 20 * time.Millisecond}
	return c, dc
}

// csvFailedAfterSucceeded is a CSV as OLM leaves it when its operator pod became unavailable.
func csvFailedAfterSucceeded(name string) *unstructured.Unstructured {
	return obj("operators.coreos.com/v1alpha1", "ClusterServiceVersion", ns, name, map[string]any{"status": map[string]any{
		"phase": "Failed", "reason": "ComponentUnhealthy", "message": "installing: waiting for deployment migration-operator to become ready.",
		"conditions": []any{
			map[string]any{"phase": "Installing", "reason": "InstallSucceeded"},
			map[string]any{"phase": "Succeeded", "reason": "InstallSucceeded"},
			map[string]any{"phase": "Failed", "reason": "ComponentUnhealthy"},
		}}})
}

// legacyObjects is the legacy chart's operator, its ConfigMap (a MigrationController with Velero on),
// the namespace with annotations, and what the operator deployed for Velero.
func legacyObjects(nsAnnotations map[string]string, velero ...runtime.Object) []runtime.Object {
	return append([]runtime.Object{
		configMap("{mode: legacy, deployment: migration-operator}", strings.Split(objectsYAML, "---")[0]),
		&appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "migration-operator", Namespace: ns},
			Status: appsv1.DeploymentStatus{Conditions: []appsv1.DeploymentCondition{{Type: "Available", Status: "True"}}}},
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns, Annotations: nsAnnotations}},
	}, velero...)
}

// veleroDeployment is the legacy operator's Deployment velero, available or not.
func veleroDeployment(available bool) *appsv1.Deployment {
	d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "velero", Namespace: ns, Generation: 1},
		Status: appsv1.DeploymentStatus{ObservedGeneration: 1, Replicas: 1}}
	if available {
		d.Status.AvailableReplicas = 1
		d.Status.Conditions = []appsv1.DeploymentCondition{{Type: appsv1.DeploymentAvailable, Status: corev1.ConditionTrue}}
	}
	return d
}

// resticDaemonSet is the legacy operator's DaemonSet restic as the DaemonSet controller reports it.
func resticDaemonSet(generation, observed int64, desired, updated, ready int32) *appsv1.DaemonSet {
	return &appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Name: "restic", Namespace: ns, Generation: generation},
		Status: appsv1.DaemonSetStatus{ObservedGeneration: observed, DesiredNumberScheduled: desired, CurrentNumberScheduled: desired,
			UpdatedNumberScheduled: updated, NumberReady: ready, NumberAvailable: ready}}
}

// veleroUp is Velero as the legacy operator leaves it once it runs: the Deployment available, restic
// ready on the one node.
func veleroUp() []runtime.Object {
	return []runtime.Object{veleroDeployment(true), resticDaemonSet(1, 1, 1, 1, 1)}
}

// On 3.11 the legacy namespace gets the empty project node selector before the MigrationController
// (whose restic DaemonSet must run on every node); a node selector the user set stays.
// An upgrade whose values dropped a remote or the replication repository removes the MigCluster or
// MigStorage an earlier revision applied, unless a MigPlan still names it; what the release did not
// apply (no release label, another release's) stays.
func TestConfigurePrunesWhatTheReleaseNoLongerRenders(t *testing.T) {
	t.Parallel()
	labelled := func(u *unstructured.Unstructured, release string) *unstructured.Unstructured {
		u.SetLabels(map[string]string{"app.kubernetes.io/instance": release, "app.kubernetes.io/managed-by": "Helm"})
		return u
	}
	release := func(doc string) string {
		return strings.ReplaceAll(doc, "metadata:\n", "metadata:\n  labels: {app.kubernetes.io/instance: mtc, app.kubernetes.io/managed-by: Helm}\n")
	}
	e := &env{typed: []runtime.Object{configMap("{mode: olm, subscription: mtc-operator}", release(objectsYAML))}, status: healthy,
		dyn: append(olmReady(),
			labelled(obj("migration.openshift.io/v1alpha1", "MigStorage", ns, "old-repo", map[string]any{"spec": map[string]any{}}), "mtc"),
			labelled(obj("migration.openshift.io/v1alpha1", "MigCluster", ns, "dropped", map[string]any{"spec": map[string]any{"isHostCluster": false}}), "mtc"),
			labelled(obj("migration.openshift.io/v1alpha1", "MigCluster", ns, "in-use", map[string]any{"spec": map[string]any{"isHostCluster": false}}), "mtc"),
			labelled(obj("migration.openshift.io/v1alpha1", "MigCluster", ns, "other-release", map[string]any{"spec": map[string]any{"isHostCluster": false}}), "mtc-b"),
			obj("migration.openshift.io/v1alpha1", "MigCluster", ns, "users", map[string]any{"spec": map[string]any{"isHostCluster": false}}),
			obj("migration.openshift.io/v1alpha1", "MigPlan", ns, "shop", map[string]any{"spec": map[string]any{"srcMigClusterRef": map[string]any{"name": "in-use", "namespace": ns}}}),
		)}
	c, dc := e.configure()
	rep, err := c.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	exists := func(gvr schema.GroupVersionResource, name string) bool {
		_, err := dc.Resource(gvr).Namespace(ns).Get(context.Background(), name, metav1.GetOptions{})
		return err == nil
	}
	if exists(kube.MigStorages, "old-repo") || exists(kube.MigClusters, "dropped") {
		t.Error("what the values dropped is still there")
	}
	for _, n := range []string{"in-use", "other-release", "users", "ocp3"} {
		if !exists(kube.MigClusters, n) {
			t.Errorf("MigCluster %s was deleted", n)
		}
	}
	if !exists(kube.MigStorages, "repo") {
		t.Error("the MigStorage the values still have was deleted")
	}
	if strings.Join(rep.Pruned, ", ") != "MigStorage openshift-migration/old-repo, MigCluster openshift-migration/dropped" {
		t.Errorf("pruned %q", rep.Pruned)
	}
	if len(rep.Kept) != 1 || !strings.HasPrefix(rep.Kept[0], "MigCluster openshift-migration/in-use: the values no longer have it, but MigPlan shop still uses it") {
		t.Errorf("kept %q", rep.Kept)
	}
}

func TestConfigureLegacyNamespaceNodeSelector(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		annotated map[string]string
		want      string
	}{
		{"none", nil, ""},
		{"the user's", map[string]string{NodeSelectorAnnotation: "region=east"}, "region=east"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := &env{typed: legacyObjects(tc.annotated, veleroUp()...), dyn: []runtime.Object{crd("migrationcontrollers.migration.openshift.io", true)}, specVersion: "1.7.14"}
			c, _ := e.configure()
			if _, err := c.Run(context.Background()); err != nil {
				t.Fatal(err)
			}
			got, err := c.Kube.CoreV1().Namespaces().Get(context.Background(), ns, metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if v, ok := got.Annotations[NodeSelectorAnnotation]; !ok || v != tc.want {
				t.Errorf("namespace annotation %s = %q (set %v), want %q", NodeSelectorAnnotation, v, ok, tc.want)
			}
		})
	}
}

func installPlan(name, phase string, csvs ...string) runtime.Object {
	names := make([]any, len(csvs))
	for i, c := range csvs {
		names[i] = c
	}
	return obj("operators.coreos.com/v1alpha1", "InstallPlan", ns, name, map[string]any{
		"spec": map[string]any{"clusterServiceVersionNames": names}, "status": map[string]any{"phase": phase}})
}

func olmReady() []runtime.Object {
	return []runtime.Object{
		subscription(map[string]any{"installedCSV": "mtc-operator.v1.8.8", "currentCSV": "mtc-operator.v1.8.8", "state": "AtLatestKnown"}),
		csv("mtc-operator.v1.8.8", "Succeeded"),
		crd("migrationcontrollers.migration.openshift.io", true),
		crd("migstorages.migration.openshift.io", true),
		crd("migclusters.migration.openshift.io", true),
	}
}

var healthy = map[string]map[string]any{
	"MigrationController": conds(cond("Running", "True", "Successful"), cond("Successful", "True", "Successful")),
	"MigStorage":          conds(cond("Ready", "True", "")),
	"MigCluster":          conds(cond("Ready", "True", "")),
}

func TestConfigure(t *testing.T) {
	t.Parallel()
	olmCM := configMap("{mode: olm, subscription: mtc-operator}", objectsYAML)
	tests := []struct {
		name        string
		env         *env
		wantRefusal string
		wantTimeout string
		wantApplied []string
	}{
		{name: "olm happy path", env: &env{typed: []runtime.Object{olmCM}, dyn: olmReady(), status: healthy},
			wantApplied: []string{"MigrationController/migration-controller", "MigStorage/repo", "MigCluster/ocp3"}},
		{name: "legacy operator", wantApplied: []string{"MigrationController/migration-controller"},
			env: &env{
				typed: legacyObjects(nil, veleroUp()...),
				dyn:   []runtime.Object{crd("migrationcontrollers.migration.openshift.io", true)},
				// The legacy operator manages no status; it writes spec.version.
				specVersion: "1.7.14",
			}},
		{name: "missing configmap", env: &env{dyn: olmReady()},
			wantRefusal: "ConfigMap openshift-migration/mtc-configure with the objects to apply does not exist"},
		{name: "foreign kind in configmap", env: &env{typed: []runtime.Object{configMap("{mode: olm, subscription: mtc-operator}", "apiVersion: v1\nkind: Secret\nmetadata: {name: x}\n")}},
			wantRefusal: "holds v1 Secret, but configure applies only migration.openshift.io/v1alpha1 kinds"},
		{name: "bad operator.yaml", env: &env{typed: []runtime.Object{configMap("{mode: helm}", objectsYAML)}},
			wantRefusal: `has mode "helm"; want olm or legacy`},
		{name: "manual approval", env: &env{typed: []runtime.Object{olmCM}, dyn: []runtime.Object{
			subscription(map[string]any{"installPlanRef": map[string]any{"name": "install-abcde"}, "state": "UpgradePending"}),
			obj("operators.coreos.com/v1alpha1", "InstallPlan", ns, "install-abcde",
				map[string]any{"spec": map[string]any{"approval": "Manual", "approved": false}}),
		}},
			wantRefusal: `oc patch installplan install-abcde -n openshift-migration --type merge -p '{"spec":{"approved":true}}'`},
		{name: "csv failed", env: &env{typed: []runtime.Object{olmCM}, dyn: []runtime.Object{
			subscription(map[string]any{"installedCSV": "mtc-operator.v1.8.8"}), csv("mtc-operator.v1.8.8", "Failed")}},
			wantRefusal: "ClusterServiceVersion openshift-migration/mtc-operator.v1.8.8 is Failed (install strategy failed)"},
		{name: "resolution not satisfiable", env: &env{typed: []runtime.Object{olmCM}, resolutionGrace: 20 * time.Millisecond, dyn: []runtime.Object{
			obj("operators.coreos.com/v1alpha1", "Subscription", ns, "mtc-operator", map[string]any{
				"spec": map[string]any{"name": "mtc-operator", "channel": "release-v1.8", "source": "redhat-operators", "sourceNamespace": "openshift-marketplace"},
				"status": map[string]any{"conditions": []any{map[string]any{"type": "ResolutionFailed", "status": "True", "reason": "ConstraintsNotSatisfiable",
					"message": "constraints not satisfiable: no operators found in channel stable-9.9 of package redhat-oadp-operator"}}}}),
		}},
			wantRefusal: "OLM cannot resolve Subscription openshift-migration/mtc-operator (constraints not satisfiable: no operators found in channel stable-9.9 of package redhat-oadp-operator); check that channel release-v1.8 exists"},
		{name: "no progress: catalog source missing", env: &env{typed: []runtime.Object{olmCM}, olmProgress: 30 * time.Millisecond, dyn: []runtime.Object{
			obj("operators.coreos.com/v1alpha1", "Subscription", ns, "mtc-operator", map[string]any{
				"spec": map[string]any{"name": "mtc-operator", "source": "mirror", "sourceNamespace": "openshift-marketplace"}}),
		}},
			wantRefusal: "OLM made no progress on Subscription openshift-migration/mtc-operator in 0s: its CatalogSource openshift-marketplace/mirror does not exist"},
		{name: "no progress: OLM absent", env: &env{typed: []runtime.Object{olmCM}, olmProgress: 30 * time.Millisecond, dyn: []runtime.Object{
			subscription(map[string]any{}),
		}},
			wantRefusal: "OLM has not written any status on it; check that OLM runs"},
		{name: "csv failed after succeeded, beyond the grace", env: &env{typed: []runtime.Object{olmCM}, csvGrace: 30 * time.Millisecond, dyn: []runtime.Object{
			subscription(map[string]any{"installedCSV": "mtc-operator.v1.8.8", "currentCSV": "mtc-operator.v1.8.8"}), csvFailedAfterSucceeded("mtc-operator.v1.8.8")}},
			wantRefusal: "had Succeeded but has been Failed for 0s (ComponentUnhealthy: installing: waiting for deployment migration-operator to become ready)"},
		{name: "csv failed after succeeded, operator comes back", wantApplied: []string{"MigrationController/migration-controller", "MigStorage/repo", "MigCluster/ocp3"},
			env: &env{typed: []runtime.Object{olmCM}, csvGrace: time.Minute, csvBackAfter: 5, status: healthy, dyn: append([]runtime.Object{
				subscription(map[string]any{"installedCSV": "mtc-operator.v1.8.8", "currentCSV": "mtc-operator.v1.8.8"}), csvFailedAfterSucceeded("mtc-operator.v1.8.8")},
				olmReady()[2:]...)}},
		{name: "channel switch not resolved", env: &env{typed: []runtime.Object{configMap("{mode: olm, subscription: mtc-operator, line: \"1.8\"}", objectsYAML)},
			olmProgress: 30 * time.Millisecond, dyn: []runtime.Object{
				subscription(map[string]any{"installedCSV": "mtc-operator.v1.7.19", "currentCSV": "mtc-operator.v1.7.19", "state": "AtLatestKnown"}),
				csv("mtc-operator.v1.7.19", "Succeeded")}},
			wantRefusal: "the installed CSV is still mtc-operator.v1.7.19, not one of MTC 1.8 (OLM state AtLatestKnown), as OLM keeps"},
		// The earlier run failed (a value the operator rejected); the fixed spec's run succeeds: the old
		// Failure, still there at the apply, is not this run's.
		{name: "a failed earlier run does not refuse the fixed spec", env: &env{typed: []runtime.Object{olmCM}, dyn: olmReady(), status: healthy,
			lastRun: conds(cond("Running", "False", "Running"), cond("Failure", "True", "Failed"), cond("Successful", "False", ""))},
			wantApplied: []string{"MigrationController/migration-controller", "MigStorage/repo", "MigCluster/ocp3"}},
		// The earlier run succeeded, this one fails: the success still there at the apply is not this run's.
		{name: "operator reports failure", env: &env{typed: []runtime.Object{olmCM}, dyn: olmReady(),
			status: map[string]map[string]any{"MigrationController": conds(cond("Failure", "True", "Failed"))}},
			wantRefusal: "the MTC operator failed to reconcile MigrationController openshift-migration/migration-controller (Failure says Failed)"},
		{name: "storage credentials invalid", env: &env{typed: []runtime.Object{olmCM}, dyn: olmReady(),
			status: map[string]map[string]any{
				"MigrationController": healthy["MigrationController"],
				"MigStorage": conds(map[string]any{"type": "InvalidBSCredsSecretRef", "status": "True", "category": "Critical",
					"message": "The `backupStorageConfig.credsSecretRef` must reference a secret."}),
			}},
			wantRefusal: "MigStorage openshift-migration/repo is not usable: The `backupStorageConfig.credsSecretRef` must reference a secret (InvalidBSCredsSecretRef)"},
		// A field MTC's CRD does not have, refused by strict field validation.
		{name: "apply refused by the CRD's schema", env: &env{typed: []runtime.Object{olmCM}, dyn: olmReady(), status: healthy,
			refuse: map[string]string{"MigStorage": `MigStorage in version "v1alpha1" cannot be handled as a MigStorage: strict decoding error: unknown field "spec.backupStorageConfig.awsS3URL"`}},
			wantRefusal: `the API server refused MigStorage openshift-migration/repo as MTC's CRD describes it (MigStorage in version "v1alpha1" cannot be handled as a MigStorage: strict decoding error: unknown field "spec.backupStorageConfig.awsS3URL"); correct the value`},
		{name: "crd never established", env: &env{typed: []runtime.Object{olmCM}, dyn: []runtime.Object{
			subscription(map[string]any{"installedCSV": "mtc-operator.v1.8.8"}), csv("mtc-operator.v1.8.8", "Succeeded"),
			crd("migrationcontrollers.migration.openshift.io", false)}},
			wantTimeout: "waiting for CRD migrationcontrollers.migration.openshift.io to be established (last seen: not established yet)"},
		{name: "csv succeeded, the dependency's csv not created yet", env: &env{typed: []runtime.Object{olmCM}, dyn: append(olmReady(),
			installPlan("install-abcde", "Installing", "mtc-operator.v1.8.8", "oadp-operator.v1.4.4"))},
			wantTimeout: "(last seen: CSV mtc-operator.v1.8.8 Succeeded, InstallPlan install-abcde has not created CSV oadp-operator.v1.4.4 yet)"},
		{name: "csv succeeded, the dependency's csv installing", env: &env{typed: []runtime.Object{olmCM}, dyn: append(olmReady(),
			installPlan("install-abcde", "Installing", "mtc-operator.v1.8.8", "oadp-operator.v1.4.4"), csv("oadp-operator.v1.4.4", "Installing"))},
			wantTimeout: "(last seen: CSV mtc-operator.v1.8.8 Succeeded, CSV oadp-operator.v1.4.4 of InstallPlan install-abcde is Installing)"},
		{name: "csv succeeded, a plan of the dependency still planned", env: &env{typed: []runtime.Object{olmCM}, dyn: append(olmReady(),
			installPlan("install-abcde", "Complete", "mtc-operator.v1.8.8"), installPlan("install-oadp1", "Planning"))},
			wantTimeout: "(last seen: CSV mtc-operator.v1.8.8 Succeeded, InstallPlan install-oadp1 still Planning)"},
		// Once every CSV of the plan succeeded, OLM's remaining passes over it are not waited for.
		{name: "every csv of the plan succeeded, olm still on the plan", wantApplied: []string{"MigrationController/migration-controller", "MigStorage/repo", "MigCluster/ocp3"},
			env: &env{typed: []runtime.Object{olmCM}, status: healthy, dyn: append(olmReady(),
				installPlan("install-abcde", "Installing", "mtc-operator.v1.8.8", "oadp-operator.v1.4.4"), csv("oadp-operator.v1.4.4", "Succeeded"))}},
		{name: "csv upgrade pending", env: &env{typed: []runtime.Object{olmCM}, dyn: []runtime.Object{
			subscription(map[string]any{"installedCSV": "mtc-operator.v1.8.7", "currentCSV": "mtc-operator.v1.8.8", "state": "UpgradePending"}),
			csv("mtc-operator.v1.8.7", "Succeeded")}},
			wantTimeout: "(last seen: Subscription state UpgradePending)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, dc := tc.env.configure()
			rep, err := c.Run(context.Background())
			switch {
			case tc.wantRefusal != "":
				if !kube.IsRefusal(err) || !strings.Contains(err.Error(), tc.wantRefusal) {
					t.Fatalf("want refusal with\n%s\ngot\n%v", tc.wantRefusal, err)
				}
			case tc.wantTimeout != "":
				if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), tc.wantTimeout) {
					t.Fatalf("want timeout with %q, got %v", tc.wantTimeout, err)
				}
			default:
				if err != nil {
					t.Fatal(err)
				}
				if rep.Result != "ok" {
					t.Fatalf("result %q", rep.Result)
				}
				if strings.Join(tc.env.applied, ",") != strings.Join(tc.wantApplied, ",") {
					t.Fatalf("applied %v, want %v", tc.env.applied, tc.wantApplied)
				}
				for _, a := range dc.Actions() {
					if pa, ok := a.(k8stesting.PatchAction); ok && pa.GetPatchType() == types.ApplyPatchType {
						// the fake records the options on the action
						po := pa.(k8stesting.PatchActionImpl).PatchOptions
						if po.FieldManager != kube.FieldManager || po.Force == nil || !*po.Force || po.FieldValidation != "Strict" {
							t.Errorf("apply options %+v: want field manager %s, force and strict field validation", po, kube.FieldManager)
						}
					}
				}
			}
		})
	}
}

// The legacy operator writes spec.version before it creates Velero, so with migration_velero on the
// wait goes on until Deployment velero is available and every restic pod is ready and current.
func TestConfigureLegacyWaitsForVelero(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name        string
		velero      []runtime.Object
		veleroOff   bool
		wantTimeout string
	}{
		{name: "nothing created yet", wantTimeout: "(last seen: version 1.7.14 written; velero Deployment not created yet, restic DaemonSet not created yet)"},
		{name: "restic not ready", velero: []runtime.Object{veleroDeployment(true), resticDaemonSet(1, 1, 1, 1, 0)},
			wantTimeout: "(last seen: version 1.7.14 written; restic 0/1 ready)"},
		{name: "restic placed on no node yet", velero: []runtime.Object{veleroDeployment(true), resticDaemonSet(1, 1, 0, 0, 0)},
			wantTimeout: "(last seen: version 1.7.14 written; restic 0/0 ready)"},
		{name: "restic spec not observed", velero: []runtime.Object{veleroDeployment(true), resticDaemonSet(2, 1, 1, 1, 1)},
			wantTimeout: "(last seen: version 1.7.14 written; restic rollout not observed yet)"},
		{name: "restic pods of the old spec", velero: []runtime.Object{veleroDeployment(true), resticDaemonSet(2, 2, 1, 0, 1)},
			wantTimeout: "(last seen: version 1.7.14 written; restic 0/1 updated)"},
		{name: "velero not available", velero: []runtime.Object{veleroDeployment(false), resticDaemonSet(1, 1, 1, 1, 1)},
			wantTimeout: "(last seen: version 1.7.14 written; velero Deployment not available (0 of 1 replicas))"},
		{name: "velero off", veleroOff: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := &env{typed: legacyObjects(nil, tc.velero...), dyn: []runtime.Object{crd("migrationcontrollers.migration.openshift.io", true)}, specVersion: "1.7.14"}
			if tc.veleroOff {
				e.typed[0] = configMap("{mode: legacy, deployment: migration-operator}", strings.Replace(strings.Split(objectsYAML, "---")[0], "migration_velero: true", "migration_velero: false", 1))
			}
			c, _ := e.configure()
			rep, err := c.Run(context.Background())
			if tc.wantTimeout == "" {
				if err != nil || rep.Result != "ok" {
					t.Fatalf("want ok, got %v (result %q)", err, rep.Result)
				}
				return
			}
			if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), tc.wantTimeout) {
				t.Fatalf("want timeout with %q, got %v", tc.wantTimeout, err)
			}
		})
	}
	// restic becomes ready while configure waits: the wait ends then, not before.
	t.Run("restic becomes ready", func(t *testing.T) {
		t.Parallel()
		e := &env{typed: legacyObjects(nil, veleroDeployment(true), resticDaemonSet(1, 1, 1, 1, 0)),
			dyn: []runtime.Object{crd("migrationcontrollers.migration.openshift.io", true)}, specVersion: "1.7.14"}
		c, _ := e.configure()
		c.Waiter.Timeout = 10 * time.Second
		kc := c.Kube.(*fake.Clientset)
		var mu sync.Mutex
		gets := 0
		kc.PrependReactor("get", "daemonsets", func(a k8stesting.Action) (bool, runtime.Object, error) {
			mu.Lock()
			defer mu.Unlock()
			if gets++; gets < 4 {
				return false, nil, nil
			}
			return true, resticDaemonSet(1, 1, 1, 1, 1), nil
		})
		rep, err := c.Run(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		defer mu.Unlock()
		if gets < 4 {
			t.Fatalf("configure returned after %d reads of DaemonSet restic, before it was ready", gets)
		}
		if len(rep.Objects) != 1 || !strings.Contains(rep.Objects[0].Status, "reconciled by operator 1.7.14") {
			t.Errorf("objects %+v", rep.Objects)
		}
	})
}

func TestParseObjectsSkipsEmptyDocuments(t *testing.T) {
	t.Parallel()
	objs, err := parseObjects("---\n# comment only\n---\n" + objectsYAML + "\n---\n")
	if err != nil {
		t.Fatal(err)
	}
	if len(objs) != 3 {
		t.Fatalf("got %d objects", len(objs))
	}
}

func TestRefusalIn(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ line, want string }{
		{`time=2026-11-30T16:52:06Z level=ERROR msg="reconcile failed" err="clusterroles.rbac.authorization.k8s.io \"migration-velero\" is forbidden: attempt to grant extra privileges: [{[*] [*] [*] [] []}] user=&{system:serviceaccount:openshift-migration:migration-operator} ownerrules=[]"`,
			`clusterroles.rbac.authorization.k8s.io "migration-velero" is forbidden: attempt to grant extra privileges: [{[*] [*] [*] [] []}]`},
		{`TASK [create velero] fatal: deployments.apps "velero" is forbidden: User "system:serviceaccount:openshift-migration:migration-operator" cannot create resource "deployments"`,
			`TASK [create velero] fatal: deployments.apps "velero" is forbidden: User "system:serviceaccount:openshift-migration:migration-operator" cannot create resource "deployments"`},
		{`level=INFO msg=reconciled`, ``},
	} {
		if got := refusalIn(tc.line); got != tc.want {
			t.Errorf("refusalIn(%q)\n got %q\nwant %q", tc.line, got, tc.want)
		}
	}
}
