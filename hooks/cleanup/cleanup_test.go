package cleanup

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"slices"
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
	dynamicfake "k8s.io/client-go/dynamic/fake"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/mtc-helm/mtc-helm/hooks/kube"
	"github.com/mtc-helm/mtc-helm/hooks/kube/kubefake"
	"github.com/mtc-helm/mtc-helm/internal/golden"
)

const ns = kube.Namespace

// builder makes unstructured fixtures.
type builder struct{ u *unstructured.Unstructured }

func newObj(gvr schema.GroupVersionResource, kind, namespace, name string) *builder {
	u := &unstructured.Unstructured{Object: map[string]any{"apiVersion": gvr.GroupVersion().String(), "kind": kind}}
	u.SetName(name)
	u.SetNamespace(namespace)
	return &builder{u}
}

func (b *builder) field(v any, path ...string) *builder {
	_ = unstructured.SetNestedField(b.u.Object, v, path...)
	return b
}

func (b *builder) conditions(types ...string) *builder {
	var l []any
	for _, t := range types {
		l = append(l, map[string]any{"type": t, "status": "True"})
	}
	return b.field(l, "status", "conditions")
}

func (b *builder) finalizers(f ...string) *builder { b.u.SetFinalizers(f); return b }

func (b *builder) annotations(kv ...string) *builder {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	b.u.SetAnnotations(m)
	return b
}

func (b *builder) build() *unstructured.Unstructured { return b.u }

func csvWithUID(name, uid string) *unstructured.Unstructured {
	u := newObj(kube.CSVs, "ClusterServiceVersion", ns, name).build()
	u.SetUID(types.UID(uid))
	return u
}

func ownedBy(u *unstructured.Unstructured, kind, name, uid string) *unstructured.Unstructured {
	u.SetOwnerReferences([]metav1.OwnerReference{{APIVersion: "operators.coreos.com/v1alpha1", Kind: kind, Name: name, UID: types.UID(uid)}})
	return u
}

// mtcOwned gives u the owner reference MTC's operator puts on what it makes in its namespace.
func mtcOwned(u *unstructured.Unstructured) *unstructured.Unstructured {
	u.SetOwnerReferences([]metav1.OwnerReference{{APIVersion: "migration.openshift.io/v1alpha1", Kind: "MigrationController", Name: "migration-controller", UID: "mc-uid"}})
	return u
}

func crd(group, plural string) *unstructured.Unstructured {
	return newObj(kube.CRDs, "CustomResourceDefinition", "", plural+"."+group).field(group, "spec", "group").build()
}

// operatorMark is what MTC's operator writes on the cluster-scoped objects it makes for the
// MigrationController of the namespace.
var operatorMark = []string{primaryResourceKey, ns + "/migration-controller", primaryResourceTypeKey, primaryResourceType}

// populated is an OCP 4 cluster with MTC 1.8 installed through OLM, OADP brought by it, and history.
func populated() []runtime.Object {
	objs := []runtime.Object{
		newObj(kube.MigrationControllers, "MigrationController", ns, "migration-controller").field("1.8.8", "spec", "version").build(),
		newObj(kube.MigClusters, "MigCluster", ns, "host").field(true, "spec", "isHostCluster").build(),
		newObj(kube.MigClusters, "MigCluster", ns, "ocp3").field(false, "spec", "isHostCluster").build(),
		newObj(kube.MigStorages, "MigStorage", ns, "repo").build(),
		newObj(kube.MigPlans, "MigPlan", ns, "plan-a").build(),
		newObj(kube.MigPlans, "MigPlan", ns, "plan-b").conditions("Closed").build(),
		newObj(kube.MigMigrations, "MigMigration", ns, "mig-1").conditions("Succeeded").field("Completed", "status", "phase").build(),
		newObj(kube.DVMs, "DirectVolumeMigration", ns, "dvm-1").finalizers(DVMFinalizer).build(),
		newObj(kube.MigHooks, "MigHook", ns, "hook-1").build(),
		newObj(kube.Subscriptions, "Subscription", ns, "mtc-operator").field("mtc-operator", "spec", "name").build(),
		csvWithUID("mtc-operator.v1.8.8", "csv-uid-1"),
		ownedBy(newObj(kube.Deployments, "Deployment", ns, "migration-operator").build(), "ClusterServiceVersion", "mtc-operator.v1.8.8", "csv-uid-1"),
		ownedBy(newObj(serviceAccounts, "ServiceAccount", ns, "migration-controller").build(), "ClusterServiceVersion", "mtc-operator.v1.8.8", "csv-uid-1"),
		newObj(kube.Subscriptions, "Subscription", ns, "redhat-oadp-operator-stable-1.2").field("redhat-oadp-operator", "spec", "name").build(),
		newObj(kube.CSVs, "ClusterServiceVersion", ns, "oadp-operator.v1.2.3").build(),
		mtcOwned(newObj(kube.DataProtectionApps, "DataProtectionApplication", ns, "velero").build()),
		// The operator's cluster-scoped objects carry its mark; the user's roles whose names look
		// like MTC's or Velero's do not.
		newObj(kube.ClusterRoles, "ClusterRole", "", "migration-controller").annotations(operatorMark...).build(),
		newObj(kube.ClusterRoleBindings, "ClusterRoleBinding", "", "migration-controller").annotations(operatorMark...).build(),
		newObj(kube.ClusterRoles, "ClusterRole", "", "migration-velero").annotations(operatorMark...).build(),
		newObj(kube.ClusterRoles, "ClusterRole", "", "migration-operator").build(),
		newObj(kube.ClusterRoles, "ClusterRole", "", "velero-view").build(),
		newObj(kube.ClusterRoleBindings, "ClusterRoleBinding", "", "team-velero-viewers").build(),
		newObj(kube.ClusterRoles, "ClusterRole", "", "audit.migration.openshift.io-reader").build(),
		newObj(kube.ClusterRoles, "ClusterRole", "", "migration-controller-other").annotations(primaryResourceKey, "other-ns/migration-controller", primaryResourceTypeKey, primaryResourceType).build(),
		newObj(kube.ClusterRoles, "ClusterRole", "", "system:unrelated").build(),
		newObj(kube.ClusterRoles, "ClusterRole", "", "mtc-cleanup.migration.openshift.io-hook").annotations("helm.sh/hook", "pre-delete").build(),
		newObj(kube.ClusterRoleBindings, "ClusterRoleBinding", "", "migration-operator").build(),
		newObj(kube.SCCs, "SecurityContextConstraints", "", "rsync-anyuid").annotations(operatorMark...).build(),
		newObj(kube.SCCs, "SecurityContextConstraints", "", "restricted-v2").build(),
		newObj(kube.OAuthClients, "OAuthClient", "", "migration").annotations(operatorMark...).build(),
		// What OLM creates outside the namespace: the CSV's clusterPermissions RBAC (labelled with
		// the CSV), OADP's bundle ClusterRoles (by name, as no other OADP is left), a bundle role of
		// another operator, and the Operator objects.
		newObj(kube.ClusterRoleBindings, "ClusterRoleBinding", "", "mtc-operator.v1.8.8-abcde").field(map[string]any{
			"olm.managed": "true", "olm.owner": "mtc-operator.v1.8.8", "olm.owner.kind": "ClusterServiceVersion", "olm.owner.namespace": ns}, "metadata", "labels").build(),
		newObj(kube.ClusterRoles, "ClusterRole", "", "dpa-editor-role").field(map[string]any{"olm.managed": "true"}, "metadata", "labels").build(),
		newObj(kube.ClusterRoles, "ClusterRole", "", "other-bundle-role").field(map[string]any{"olm.managed": "true"}, "metadata", "labels").build(),
		newObj(kube.Operators, "Operator", "", "mtc-operator."+ns).build(),
		newObj(kube.Operators, "Operator", "", "redhat-oadp-operator."+ns).build(),
		newObj(kube.Operators, "Operator", "", "other-operator."+ns).build(),
	}
	for _, k := range kube.MTCKinds {
		objs = append(objs, crd(kube.MigrationGroup, k.GVR.Resource))
	}
	for _, p := range []string{"backups", "restores", "schedules", "backupstoragelocations"} {
		objs = append(objs, crd(kube.VeleroGroup, p))
	}
	return objs
}

// fakeCluster plays the API server, garbage collection aside, and a mig-controller that closes plans and
// honours the DVM finalizer: with controllerUp it removes the finalizer on delete, otherwise the DVM stays.
type fakeCluster struct {
	kube    *fake.Clientset
	dyn     *dynamicfake.FakeDynamicClient
	mu      sync.Mutex
	deletes []string
}

func newFakeCluster(controllerUp bool, objs ...runtime.Object) *fakeCluster {
	var typed []runtime.Object
	if controllerUp {
		typed = append(typed, &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: kube.ControllerName, Namespace: ns},
			Status: appsv1.DeploymentStatus{AvailableReplicas: 1}})
	}
	fc := &fakeCluster{kube: fake.NewClientset(typed...), dyn: kubefake.Dynamic(objs...)}
	tr := fc.dyn.Tracker()
	fc.dyn.PrependReactor("delete", "*", func(a k8stesting.Action) (bool, runtime.Object, error) {
		da := a.(k8stesting.DeleteAction)
		fc.mu.Lock()
		fc.deletes = append(fc.deletes, da.GetResource().Resource+"/"+da.GetName())
		fc.mu.Unlock()
		o, err := tr.Get(da.GetResource(), da.GetNamespace(), da.GetName())
		if err != nil {
			return true, nil, err
		}
		u := o.(*unstructured.Unstructured)
		if len(u.GetFinalizers()) > 0 && (!controllerUp || fc.remoteDown(u)) {
			now := metav1.Now()
			u.SetDeletionTimestamp(&now)
			return true, nil, tr.Update(da.GetResource(), u, da.GetNamespace())
		}
		return true, nil, tr.Delete(da.GetResource(), da.GetNamespace(), da.GetName())
	})
	fc.dyn.PrependReactor("patch", "*", func(a k8stesting.Action) (bool, runtime.Object, error) {
		pa := a.(k8stesting.PatchAction)
		o, err := tr.Get(pa.GetResource(), pa.GetNamespace(), pa.GetName())
		if err != nil {
			return true, nil, err
		}
		u := o.(*unstructured.Unstructured)
		p := string(pa.GetPatch())
		switch {
		case strings.Contains(p, `"closed":true`):
			_ = unstructured.SetNestedField(u.Object, true, "spec", "closed")
			if controllerUp {
				_ = unstructured.SetNestedSlice(u.Object, []any{map[string]any{"type": "Closed", "status": "True"}}, "status", "conditions")
			}
		case strings.Contains(p, `"finalizers":null`):
			u.SetFinalizers(nil)
			if u.GetDeletionTimestamp() != nil {
				return true, u, tr.Delete(pa.GetResource(), pa.GetNamespace(), pa.GetName())
			}
		case strings.Contains(p, `"labels":`):
			var m struct {
				Metadata struct {
					Labels      map[string]*string `json:"labels"`
					Annotations map[string]*string `json:"annotations"`
				} `json:"metadata"`
			}
			if err := json.Unmarshal(pa.GetPatch(), &m); err != nil {
				return true, nil, err
			}
			merge := func(cur map[string]string, p map[string]*string) map[string]string {
				if cur == nil {
					cur = map[string]string{}
				}
				for k, v := range p {
					if v == nil {
						delete(cur, k)
					} else {
						cur[k] = *v
					}
				}
				return cur
			}
			u.SetLabels(merge(u.GetLabels(), m.Metadata.Labels))
			u.SetAnnotations(merge(u.GetAnnotations(), m.Metadata.Annotations))
		}
		return true, u, tr.Update(pa.GetResource(), u, pa.GetNamespace())
	})
	return fc
}

// remoteDown says whether u is a DVM whose source MigCluster's connection test failed: the
// controller cannot clean up there, so it keeps the finalizer.
func (fc *fakeCluster) remoteDown(u *unstructured.Unstructured) bool {
	name, _, _ := unstructured.NestedString(u.Object, "spec", "srcMigClusterRef", "name")
	if u.GetKind() != "DirectVolumeMigration" || name == "" {
		return false
	}
	o, err := fc.dyn.Tracker().Get(kube.MigClusters, u.GetNamespace(), name)
	return err == nil && kube.ConditionTrue(o.(*unstructured.Unstructured), "TestConnectFailed")
}

func (fc *fakeCluster) cleanup() *Cleanup {
	return &Cleanup{Action: kube.Action{Kube: fc.kube, Dynamic: fc.dyn, Host: "https://api.test:6443", Namespace: ns, Waiter: kube.Waiter{Interval: 5 * time.Millisecond, Timeout: 500 * time.Millisecond}, Log: slog.New(slog.NewTextHandler(io.Discard, nil))},
		Now: func() time.Time { return time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC) }, GCGrace: 50 * time.Millisecond, OLMQuiet: 20 * time.Millisecond}
}

func (fc *fakeCluster) exists(t *testing.T, gvr schema.GroupVersionResource, namespace, name string) bool {
	t.Helper()
	_, err := fc.dyn.Resource(gvr).Namespace(namespace).Get(context.Background(), name, metav1.GetOptions{})
	return err == nil
}

func (fc *fakeCluster) mutations() []string {
	var out []string
	for _, a := range append(fc.dyn.Actions(), fc.kube.Actions()...) {
		switch a.GetVerb() {
		case "create", "update", "patch", "delete", "deletecollection":
			out = append(out, a.GetVerb()+" "+a.GetResource().Resource)
		}
	}
	return out
}

func TestCleanupRemovesEverythingInOrder(t *testing.T) {
	t.Parallel()
	fc := newFakeCluster(true, populated()...)
	c := fc.cleanup()
	c.ExportFile = filepath.Join(t.TempDir(), "mtc-export.yaml")
	rep, err := c.Run(context.Background())
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if rep.Result != "ok" || rep.Exported != 9 {
		t.Fatalf("result %q, exported %d", rep.Result, rep.Exported)
	}
	// Gone.
	for _, o := range []struct {
		gvr       schema.GroupVersionResource
		namespace string
		name      string
	}{
		{kube.MigPlans, ns, "plan-a"}, {kube.DVMs, ns, "dvm-1"}, {kube.MigClusters, ns, "host"},
		{kube.Subscriptions, ns, "mtc-operator"}, {kube.CSVs, ns, "mtc-operator.v1.8.8"},
		{kube.Subscriptions, ns, "redhat-oadp-operator-stable-1.2"}, {kube.CSVs, ns, "oadp-operator.v1.2.3"},
		{kube.CRDs, "", "migplans.migration.openshift.io"}, {kube.CRDs, "", "backups.velero.io"},
		{kube.ClusterRoles, "", "migration-controller"}, {kube.ClusterRoleBindings, "", "migration-controller"},
		{kube.ClusterRoles, "", "migration-velero"}, {kube.ClusterRoles, "", "migration-operator"},
		{kube.ClusterRoleBindings, "", "migration-operator"},
		{kube.SCCs, "", "rsync-anyuid"}, {kube.OAuthClients, "", "migration"},
		{kube.Deployments, ns, "migration-operator"}, {serviceAccounts, ns, "migration-controller"},
		{kube.ClusterRoles, "", "dpa-editor-role"},
		{kube.Operators, "", "mtc-operator." + ns}, {kube.Operators, "", "redhat-oadp-operator." + ns},
	} {
		if fc.exists(t, o.gvr, o.namespace, o.name) {
			t.Errorf("%s %s/%s still exists", o.gvr.Resource, o.namespace, o.name)
		}
	}
	// Kept.
	for _, n := range []string{"system:unrelated", "mtc-cleanup.migration.openshift.io-hook", "velero-view",
		"audit.migration.openshift.io-reader", "migration-controller-other"} {
		if !fc.exists(t, kube.ClusterRoles, "", n) {
			t.Errorf("ClusterRole %s was deleted", n)
		}
	}
	if !fc.exists(t, kube.ClusterRoleBindings, "", "team-velero-viewers") {
		t.Error("the user's ClusterRoleBinding team-velero-viewers was deleted")
	}
	var kept []string
	for _, st := range rep.Steps {
		kept = append(kept, st.Kept...)
	}
	for _, want := range []string{"ClusterRole velero-view: its name looks like MTC's or Velero's, but MTC's operator did not make it",
		"ClusterRoleBinding team-velero-viewers: its name", "ClusterRole audit.migration.openshift.io-reader: its name",
		// no OLM here to run the CSV's csv-cleanup finalizer: its RBAC stays, named with the command
		"ClusterRoleBinding mtc-operator.v1.8.8-abcde: OLM made it for the removed CSV mtc-operator.v1.8.8 and its csv-cleanup did not take it; delete it with kubectl delete clusterrolebinding mtc-operator.v1.8.8-abcde"} {
		if !slices.ContainsFunc(kept, func(k string) bool { return strings.HasPrefix(k, want) }) {
			t.Errorf("the report does not say it kept %q; kept: %q", want, kept)
		}
	}
	if !fc.exists(t, kube.SCCs, "", "restricted-v2") {
		t.Error("SCC restricted-v2 was deleted")
	}
	if !fc.exists(t, kube.ClusterRoles, "", "other-bundle-role") || !fc.exists(t, kube.Operators, "", "other-operator."+ns) {
		t.Error("what OLM created for another operator was deleted")
	}
	// Order: records before plans before the controller before the operator before the CRDs.
	pos := map[string]int{}
	for i, d := range fc.deletes {
		if _, seen := pos[d]; !seen {
			pos[d] = i
		}
	}
	order := []string{"migmigrations/mig-1", "migplans/plan-a", "migrationcontrollers/migration-controller",
		"subscriptions/mtc-operator", "customresourcedefinitions/migplans.migration.openshift.io", "clusterroles/migration-operator"}
	for i := 1; i < len(order); i++ {
		a, okA := pos[order[i-1]]
		b, okB := pos[order[i]]
		if !okA || !okB || a > b {
			t.Errorf("%s (at %d, %v) should be deleted before %s (at %d, %v); deletes: %v", order[i-1], a, okA, order[i], b, okB, fc.deletes)
		}
	}
	// Export: ConfigMap and file.
	cm, err := fc.kube.CoreV1().ConfigMaps(ns).Get(context.Background(), "mtc-export-20260102-030405-1", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("export ConfigMap: %v", err)
	}
	if len(cm.OwnerReferences) != 0 || cm.Annotations["meta.helm.sh/release-name"] != "" {
		t.Error("the export ConfigMap must not be owned by anything")
	}
	for _, want := range []string{"kind: MigPlan", "name: plan-a", "kind: DirectVolumeMigration", "kind: MigrationController"} {
		if !strings.Contains(cm.Data[ExportKey], want) {
			t.Errorf("export lacks %q", want)
		}
	}
	file, err := os.ReadFile(c.ExportFile)
	if err != nil || string(file) != cm.Data[ExportKey] {
		t.Errorf("export file differs from the ConfigMap (err %v)", err)
	}
	var text strings.Builder
	if err := rep.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	golden.Check(t, "removes-everything.txt", golden.Stable(strings.ReplaceAll(text.String(), filepath.Dir(c.ExportFile), "<tmp>")))

	// A second run finds nothing and changes nothing.
	before := len(fc.mutations())
	rep2, err := fc.cleanup().Run(context.Background())
	if err != nil {
		t.Fatalf("second run: %v", err)
	}
	if rep2.Exported != 0 || len(fc.mutations()) != before {
		t.Fatalf("second run exported %d and made %v", rep2.Exported, fc.mutations()[before:])
	}
}

func TestCleanupRefusesWhileMigrationRuns(t *testing.T) {
	t.Parallel()
	tests := map[string]*unstructured.Unstructured{
		"running condition": newObj(kube.MigMigrations, "MigMigration", ns, "mig-2").conditions("Running").build(),
		"started, not done": newObj(kube.MigMigrations, "MigMigration", ns, "mig-2").
			field("2026-01-01T00:00:00Z", "status", "startTimestamp").field("StageBackupCreated", "status", "phase").build(),
	}
	for name, mig := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			fc := newFakeCluster(true, append(populated(), mig)...)
			_, err := fc.cleanup().Run(context.Background())
			if !kube.IsRefusal(err) || !strings.Contains(err.Error(), "MigMigration openshift-migration/mig-2 is still running") ||
				!strings.Contains(err.Error(), "nothing was deleted") {
				t.Fatalf("want a refusal, got %v", err)
			}
			if m := fc.mutations(); len(m) != 0 {
				t.Fatalf("a refused cleanup changed the cluster: %v", m)
			}
		})
	}
	t.Run("during migration", func(t *testing.T) {
		t.Parallel()
		fc := newFakeCluster(true, append(populated(), tests["running condition"])...)
		c := fc.cleanup()
		c.DuringMigration = true
		if _, err := c.Run(context.Background()); err != nil {
			t.Fatal(err)
		}
		if fc.exists(t, kube.MigMigrations, ns, "mig-2") {
			t.Fatal("mig-2 survived --during-migration")
		}
	})
}

func TestCleanupDryRunChangesNothing(t *testing.T) {
	t.Parallel()
	fc := newFakeCluster(true, populated()...)
	c := fc.cleanup()
	c.DryRun = true
	rep, err := c.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if m := fc.mutations(); len(m) != 0 {
		t.Fatalf("dry run changed the cluster: %v", m)
	}
	var text strings.Builder
	_ = rep.WriteText(&text)
	golden.Check(t, "dry-run.txt", golden.Stable(text.String()))

	// The same Cleanup runs again and plans the same: what one run learnt (what it would already have
	// deleted) is not kept for the next.
	again, err := c.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var second strings.Builder
	_ = again.WriteText(&second)
	if golden.Stable(second.String()) != golden.Stable(text.String()) {
		t.Fatalf("a second dry run of the same Cleanup planned differently:\n%s\nfirst:\n%s", second.String(), text.String())
	}
}

// A DataProtectionApplication named velero in MTC's namespace that MTC's operator did not make (no
// owner reference to the MigrationController) is the user's: it stays, and so does OADP.
func TestCleanupKeepsTheUsersDPANamedVelero(t *testing.T) {
	t.Parallel()
	var objs []runtime.Object
	for _, o := range populated() {
		if u := o.(*unstructured.Unstructured); u.GetKind() == "DataProtectionApplication" {
			u.SetOwnerReferences(nil)
		}
		objs = append(objs, o)
	}
	fc := newFakeCluster(true, objs...)
	rep, err := fc.cleanup().Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !fc.exists(t, kube.DataProtectionApps, ns, "velero") {
		t.Fatal("the user's DataProtectionApplication velero was deleted")
	}
	if !fc.exists(t, kube.CSVs, ns, "oadp-operator.v1.2.3") || !fc.exists(t, kube.CRDs, "", "backups.velero.io") {
		t.Error("OADP or the velero CRDs were removed although the user's DataProtectionApplication uses them")
	}
	if rep.Result != "ok" {
		t.Errorf("result %q", rep.Result)
	}
}

// Another Velero, seen by any object of any Velero kind outside MTC's namespace or by its
// Deployment when it was installed without OLM, keeps OADP and the velero CRDs.
func TestCleanupKeepsVeleroForAnotherVelero(t *testing.T) {
	t.Parallel()
	veleroGVR := func(plural string) schema.GroupVersionResource {
		for _, g := range kube.VeleroResources() {
			if g.Resource == plural {
				return g
			}
		}
		t.Fatalf("no velero resource %s", plural)
		return schema.GroupVersionResource{}
	}
	for _, tc := range []struct {
		name  string
		other *unstructured.Unstructured
		why   string
	}{
		{"a BackupStorageLocation of the user's OADP", newObj(veleroGVR("backupstoragelocations"), "BackupStorageLocation", "openshift-adp", "default").build(),
			"Velero backupstoragelocations outside openshift-migration"},
		{"a VolumeSnapshotLocation", newObj(veleroGVR("volumesnapshotlocations"), "VolumeSnapshotLocation", "team-a", "snapshots").build(),
			"Velero volumesnapshotlocations outside openshift-migration"},
		{"a DataUpload", newObj(veleroGVR("datauploads"), "DataUpload", "velero", "up-1").build(),
			"Velero datauploads outside openshift-migration"},
		{"Velero from its Helm chart", newObj(kube.Deployments, "Deployment", "velero", "velero").field(map[string]any{"app.kubernetes.io/name": "velero"}, "metadata", "labels").build(),
			"a Velero Deployment velero/velero"},
		{"Velero from velero install", newObj(kube.Deployments, "Deployment", "backup-system", "velero").field(map[string]any{"component": "velero"}, "metadata", "labels").build(),
			"a Velero Deployment backup-system/velero"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			fc := newFakeCluster(true, append(populated(), tc.other)...)
			rep, err := fc.cleanup().Run(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if !fc.exists(t, kube.CRDs, "", "backups.velero.io") {
				t.Fatal("the velero CRDs were removed although another Velero uses them")
			}
			// MTC's OADP serves its own namespace only: another Velero does not use it.
			if fc.exists(t, kube.CSVs, ns, "oadp-operator.v1.2.3") {
				t.Error("MTC's OADP stayed although nothing in its namespace uses it")
			}
			var kept []string
			for _, st := range rep.Steps {
				kept = append(kept, st.Kept...)
			}
			if !slices.ContainsFunc(kept, func(k string) bool { return strings.Contains(k, tc.why) }) {
				t.Errorf("the report does not say %q; kept: %q", tc.why, kept)
			}
			if fc.exists(t, kube.CRDs, "", "migplans.migration.openshift.io") {
				t.Error("MTC's own CRDs stayed")
			}
		})
	}
}

func TestCleanupKeepsVeleroWhileOthersUseIt(t *testing.T) {
	t.Parallel()
	other := newObj(kube.DataProtectionApps, "DataProtectionApplication", "openshift-adp", "dpa-sample").build()
	fc := newFakeCluster(true, append(populated(), other)...)
	rep, err := fc.cleanup().Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !fc.exists(t, kube.CRDs, "", "backups.velero.io") {
		t.Fatal("velero CRDs removed although another DataProtectionApplication uses them")
	}
	if fc.exists(t, kube.Subscriptions, ns, "redhat-oadp-operator-stable-1.2") {
		t.Error("MTC's OADP stayed although the other DataProtectionApplication is served by its own namespace's OADP")
	}
	if !fc.exists(t, kube.ClusterRoles, "", "migration-velero") {
		t.Error("the operator's velero cluster role removed although the velero CRDs stay")
	}
	if fc.exists(t, kube.CRDs, "", "migplans.migration.openshift.io") {
		t.Error("MTC CRDs stayed")
	}
	var text strings.Builder
	_ = rep.WriteText(&text)
	golden.Check(t, "keeps-velero-for-another-dpa.txt", golden.Stable(text.String()))
}

func TestCleanupDVMFinalizerWithoutController(t *testing.T) {
	t.Parallel()
	fc := newFakeCluster(false, populated()...)
	_, err := fc.cleanup().Run(context.Background())
	if !kube.IsRefusal(err) || !strings.Contains(err.Error(), "keeps the finalizer migration.openshift.io/directvolumemigrationfinalizer") ||
		!strings.Contains(err.Error(), "--drop-finalizers") {
		t.Fatalf("want a refusal about the finalizer, got %v", err)
	}
	if !fc.exists(t, kube.MigrationControllers, ns, "migration-controller") {
		t.Fatal("the cleanup went past the stuck DVM")
	}
	c := fc.cleanup()
	c.DuringMigration, c.DeleteShared = true, true // neither drops a finalizer
	if _, err := c.Run(context.Background()); err == nil || !strings.Contains(err.Error(), "--drop-finalizers") {
		t.Fatalf("rerun with the other switches: want the same refusal, got %v", err)
	}
	c = fc.cleanup()
	c.DropFinalizers = true
	if _, err := c.Run(context.Background()); err != nil {
		t.Fatalf("rerun with --drop-finalizers: %v", err)
	}
	if fc.exists(t, kube.DVMs, ns, "dvm-1") || fc.exists(t, kube.CRDs, "", "directvolumemigrations.migration.openshift.io") {
		t.Fatal("--drop-finalizers did not finish the job")
	}
}

// A running controller keeps the DVM finalizer while the migration's remote cannot be reached: the
// cleanup says so at once, naming the cluster, instead of waiting, and --drop-finalizers goes on.
func TestCleanupDVMFinalizerWithAnUnreachableRemote(t *testing.T) {
	t.Parallel()
	var objs []runtime.Object
	for _, o := range populated() {
		u := o.(*unstructured.Unstructured)
		switch u.GetName() {
		case "dvm-1":
			_ = unstructured.SetNestedMap(u.Object, map[string]any{"name": "ocp3", "namespace": ns}, "spec", "srcMigClusterRef")
		case "ocp3":
			_ = unstructured.SetNestedSlice(u.Object, []any{map[string]any{"type": "TestConnectFailed", "status": "True", "category": "Critical",
				"message": "Test connect failed: dial tcp 10.0.0.9:6443: i/o timeout"}}, "status", "conditions")
		}
		objs = append(objs, u)
	}
	fc := newFakeCluster(true, objs...)
	_, err := fc.cleanup().Run(context.Background())
	want := "DirectVolumeMigration openshift-migration/dvm-1 keeps the finalizer migration.openshift.io/directvolumemigrationfinalizer: mig-controller removes it only after cleaning up on both clusters of the migration, and MigCluster openshift-migration/ocp3 cannot be reached (Test connect failed: dial tcp 10.0.0.9:6443: i/o timeout)"
	if !kube.IsRefusal(err) || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "--drop-finalizers") {
		t.Fatalf("want a refusal naming the unreachable cluster:\n%s\ngot\n%v", want, err)
	}
	if errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("the cleanup waited for its timeout: %v", err)
	}
	if !fc.exists(t, kube.MigClusters, ns, "ocp3") || !fc.exists(t, kube.MigrationControllers, ns, "migration-controller") {
		t.Fatal("the cleanup went past the stuck DVM")
	}
	c := fc.cleanup()
	c.DropFinalizers = true
	rep, err := c.Run(context.Background())
	if err != nil {
		t.Fatalf("rerun with --drop-finalizers: %v", err)
	}
	if fc.exists(t, kube.DVMs, ns, "dvm-1") {
		t.Fatal("--drop-finalizers left the DVM")
	}
	var notes []string
	for _, st := range rep.Steps {
		notes = append(notes, st.Notes...)
	}
	if !slices.ContainsFunc(notes, func(n string) bool {
		return strings.Contains(n, "(--drop-finalizers, MigCluster openshift-migration/ocp3 cannot be reached")
	}) {
		t.Errorf("the report does not say why the finalizer was dropped: %q", notes)
	}
}

func TestCleanupPreDeleteKeepsTheOperator(t *testing.T) {
	t.Parallel()
	fc := newFakeCluster(true, populated()...)
	c := fc.cleanup()
	c.Phase = PhasePreDelete
	if _, err := c.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if fc.exists(t, kube.MigrationControllers, ns, "migration-controller") {
		t.Error("pre-delete left the MigrationController")
	}
	if !fc.exists(t, kube.Subscriptions, ns, "mtc-operator") || !fc.exists(t, kube.CRDs, "", "migplans.migration.openshift.io") {
		t.Error("pre-delete removed the operator or the CRDs")
	}
}

func TestCleanupSurvivesTransientErrors(t *testing.T) {
	t.Parallel()
	fc := newFakeCluster(true, populated()...)
	var mu sync.Mutex
	fails := 0
	fc.dyn.PrependReactor("list", "migplans", func(a k8stesting.Action) (bool, runtime.Object, error) {
		mu.Lock()
		defer mu.Unlock()
		if fails < 3 {
			fails++
			return true, nil, &netOpError{}
		}
		return false, nil, nil
	})
	if _, err := fc.cleanup().Run(context.Background()); err != nil {
		t.Fatalf("a restarting API server failed the cleanup: %v", err)
	}
}

// netOpError looks like a refused connection.
type netOpError struct{}

func (*netOpError) Error() string   { return "dial tcp 127.0.0.1:6443: connect: connection refused" }
func (*netOpError) Timeout() bool   { return false }
func (*netOpError) Temporary() bool { return true }

func TestChunk(t *testing.T) {
	t.Parallel()
	docs := [][]byte{[]byte(strings.Repeat("a", 40)), []byte(strings.Repeat("b", 40)), []byte(strings.Repeat("c", 40))}
	objs := make([]*unstructured.Unstructured, len(docs))
	for i := range objs {
		objs[i] = newObj(kube.MigPlans, "MigPlan", ns, fmt.Sprint("p", i)).build()
		objs[i].SetUID(types.UID(fmt.Sprint("uid-", i)))
	}
	parts := chunkObjects(objs, docs, 100)
	if len(parts) != 2 {
		t.Fatalf("%d parts", len(parts))
	}
	var uids []string
	for _, p := range parts {
		if len(p.data) > 100 {
			t.Errorf("part of %d bytes", len(p.data))
		}
		uids = append(uids, p.uids...)
	}
	if strings.Join(uids, ",") != "uid-0,uid-1,uid-2" {
		t.Errorf("the parts hold the uids %v", uids)
	}
}

// While OLM still executes an InstallPlan, the operator stays: the cleanup waits for it and, when it
// never finishes, fails naming it with the Subscriptions and CSVs untouched. Once the InstallPlan
// is Complete, the same cleanup goes through.
func TestCleanupWaitsForARunningInstallPlan(t *testing.T) {
	t.Parallel()
	ip := newObj(kube.InstallPlans, "InstallPlan", ns, "install-abcde").build()
	_ = unstructured.SetNestedField(ip.Object, "Installing", "status", "phase")
	fc := newFakeCluster(true, append(populated(), ip)...)
	_, err := fc.cleanup().Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "InstallPlan install-abcde is Installing") {
		t.Fatalf("want a timeout naming the running InstallPlan, got %v", err)
	}
	if !fc.exists(t, kube.Subscriptions, ns, "mtc-operator") || !fc.exists(t, kube.CSVs, ns, "mtc-operator.v1.8.8") {
		t.Fatal("the operator was removed under a running InstallPlan")
	}
	_ = unstructured.SetNestedField(ip.Object, "Complete", "status", "phase")
	if err := fc.dyn.Tracker().Update(kube.InstallPlans, ip, ns); err != nil {
		t.Fatal(err)
	}
	if _, err := fc.cleanup().Run(context.Background()); err != nil {
		t.Fatalf("rerun once the InstallPlan is Complete: %v", err)
	}
	if fc.exists(t, kube.Subscriptions, ns, "mtc-operator") {
		t.Fatal("the Subscription stayed after the InstallPlan completed")
	}
}

// RBAC that OLM labels for an MTC or OADP CSV of the namespace which no longer exists (made again by
// an InstallPlan pass still in flight after the csv-cleanup finalizer ran) is OLM's, named <csv>-<hash>:
// the cleanup's ClusterRole may not delete it, so step 7 names it with the command instead; RBAC
// labelled for another namespace's CSV is not mentioned.
func TestCleanupNamesOLMRBACOfGoneCSVs(t *testing.T) {
	t.Parallel()
	labelled := func(name, owner, namespace string) *unstructured.Unstructured {
		u := newObj(kube.ClusterRoleBindings, "ClusterRoleBinding", "", name).build()
		u.SetLabels(map[string]string{"olm.owner": owner, "olm.owner.kind": "ClusterServiceVersion", "olm.owner.namespace": namespace})
		return u
	}
	fc := newFakeCluster(true, append(populated(),
		labelled("mtc-operator.v1.8.7-abc", "mtc-operator.v1.8.7", ns),
		labelled("oadp-operator.v1.4.4-def", "oadp-operator.v1.4.4", ns),
		labelled("oadp-operator.v1.4.4-ghi", "oadp-operator.v1.4.4", "openshift-adp"))...)
	rep, err := fc.cleanup().Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var kept []string
	for _, st := range rep.Steps {
		kept = append(kept, st.Kept...)
	}
	for _, n := range []string{"mtc-operator.v1.8.7-abc", "oadp-operator.v1.4.4-def", "oadp-operator.v1.4.4-ghi"} {
		if !fc.exists(t, kube.ClusterRoleBindings, "", n) {
			t.Errorf("the cleanup deleted OLM's ClusterRoleBinding %s", n)
		}
	}
	for _, n := range []string{"mtc-operator.v1.8.7-abc", "oadp-operator.v1.4.4-def"} {
		if !slices.ContainsFunc(kept, func(k string) bool {
			return strings.HasPrefix(k, "ClusterRoleBinding "+n+": OLM made it") && strings.HasSuffix(k, "kubectl delete clusterrolebinding "+n)
		}) {
			t.Errorf("the report does not name ClusterRoleBinding %s with its command; kept: %q", n, kept)
		}
	}
	if slices.ContainsFunc(kept, func(k string) bool { return strings.Contains(k, "oadp-operator.v1.4.4-ghi") }) {
		t.Error("the report names the RBAC of another namespace's OADP")
	}
}

// A ClusterRole MTC's operator marked whose name the cleanup's ClusterRole does not list stays, named
// with its command: the cleanup deletes cluster RBAC only by the names the chart grants.
func TestCleanupKeepsMarkedRBACOfOtherNames(t *testing.T) {
	t.Parallel()
	odd := newObj(kube.ClusterRoles, "ClusterRole", "", "migration-extra").annotations(primaryResourceKey, ns+"/migration-controller", primaryResourceTypeKey, primaryResourceType).build()
	fc := newFakeCluster(true, append(populated(), odd)...)
	rep, err := fc.cleanup().Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !fc.exists(t, kube.ClusterRoles, "", "migration-extra") {
		t.Fatal("the cleanup deleted a ClusterRole by a name its ClusterRole does not grant")
	}
	var kept []string
	for _, st := range rep.Steps {
		kept = append(kept, st.Kept...)
	}
	if !slices.ContainsFunc(kept, func(k string) bool {
		return strings.HasPrefix(k, "ClusterRole migration-extra: MTC's operator marked it") && strings.HasSuffix(k, "kubectl delete clusterrole migration-extra")
	}) {
		t.Errorf("the report does not name ClusterRole migration-extra; kept: %q", kept)
	}
}

// --delete-shared, and only it, removes OADP and the Velero CRDs that another DataProtectionApplication
// still uses; the other two switches leave them.
func TestCleanupDeleteShared(t *testing.T) {
	t.Parallel()
	other := newObj(kube.DataProtectionApps, "DataProtectionApplication", "openshift-adp", "dpa-sample").build()
	fc := newFakeCluster(true, append(populated(), other)...)
	c := fc.cleanup()
	c.DuringMigration, c.DropFinalizers = true, true
	if _, err := c.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !fc.exists(t, kube.CRDs, "", "backups.velero.io") {
		t.Fatal("--during-migration or --drop-finalizers removed what another DataProtectionApplication uses")
	}
	c = fc.cleanup()
	c.DeleteShared = true
	rep, err := c.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if fc.exists(t, kube.CRDs, "", "backups.velero.io") {
		t.Fatal("--delete-shared left the Velero CRDs")
	}
	var text strings.Builder
	_ = rep.WriteText(&text)
	if !strings.Contains(text.String(), "(--delete-shared)") {
		t.Errorf("the report does not say --delete-shared removed shared things:\n%s", text.String())
	}
}

// The export stores objects as they can be created again, and says what it dropped.
func TestRestorable(t *testing.T) {
	t.Parallel()
	u := newObj(kube.MigPlans, "MigPlan", ns, "plan-1").field("keep", "spec", "note").finalizers("migration.openshift.io/x").build()
	u.SetUID("uid-1")
	u.SetResourceVersion("42")
	now := metav1.Now()
	u.SetDeletionTimestamp(&now)
	u.SetOwnerReferences([]metav1.OwnerReference{{APIVersion: "v1", Kind: "MigrationController", Name: "migration-controller", UID: "c"}})
	r := restorable(u)
	for _, f := range []string{"uid", "resourceVersion", "deletionTimestamp", "ownerReferences", "finalizers"} {
		if _, ok, _ := unstructured.NestedFieldNoCopy(r.Object, "metadata", f); ok {
			t.Errorf("metadata.%s kept", f)
		}
	}
	if v, _, _ := unstructured.NestedString(r.Object, "spec", "note"); v != "keep" {
		t.Error("spec lost")
	}
	d := r.GetAnnotations()[DroppedAnnotation]
	if !strings.Contains(d, `"ownerReferences":["MigrationController/migration-controller"]`) || !strings.Contains(d, `"finalizers":["migration.openshift.io/x"]`) {
		t.Errorf("%s = %s", DroppedAnnotation, d)
	}
	if u.GetUID() != "uid-1" {
		t.Error("restorable changed its input")
	}
}

// A run killed while writing leaves an incomplete export, which the next run deletes before writing
// one complete export; a rerun whose objects are all in that export reuses it; an export of other
// objects in the same second gets a stamp of its own.
func TestExportWholeOnceAndUnique(t *testing.T) {
	t.Parallel()
	fc := newFakeCluster(true)
	c := &run{Cleanup: fc.cleanup()}
	ctx := context.Background()
	partial := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "mtc-export-20260102-030400-1", Namespace: ns,
		Labels:      map[string]string{ExportLabel: "20260102-030400", ExportCompleteLabel: "false", "app.kubernetes.io/component": "export"},
		Annotations: map[string]string{"mtc-helm.io/export-part": "1/2"}}}
	if _, err := fc.kube.CoreV1().ConfigMaps(ns).Create(ctx, partial, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	plan := newObj(kube.MigPlans, "MigPlan", ns, "plan-1").build()
	plan.SetUID("uid-1")
	first, err := c.export(ctx, ns, []*unstructured.Unstructured{plan}, "20260102-030405")
	if err != nil {
		t.Fatal(err)
	}
	again, err := c.export(ctx, ns, []*unstructured.Unstructured{plan}, "20260102-030405")
	if err != nil {
		t.Fatal(err)
	}
	storage := newObj(kube.MigStorages, "MigStorage", ns, "repo").build()
	storage.SetUID("uid-2")
	other, err := c.export(ctx, ns, []*unstructured.Unstructured{plan, storage}, "20260102-030405")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(first, ",") != "mtc-export-20260102-030405-1" || strings.Join(again, ",") != strings.Join(first, ",") ||
		strings.Join(other, ",") != "mtc-export-20260102-030405-2-1" {
		t.Fatalf("exports %v, %v, %v", first, again, other)
	}
	exports, err := c.exports(ctx, ns)
	if err != nil {
		t.Fatal(err)
	}
	if len(exports) != 2 || !exports[0].complete || !exports[1].complete {
		t.Fatalf("want two complete exports and no partial one, got %+v", exports)
	}
}

// An export → cleanup → restore round trip brings back the plans, storages, remote clusters and
// hooks without owner references, finalizers or status, leaves the migration history and the host
// MigCluster to the export and the operator, and a second restore creates nothing.
func TestRestoreRoundTrip(t *testing.T) {
	t.Parallel()
	objs := populated()
	for _, o := range objs {
		u := o.(*unstructured.Unstructured)
		if u.GetKind() == "MigPlan" {
			u.SetOwnerReferences([]metav1.OwnerReference{{APIVersion: "v1", Kind: "MigrationController", Name: "migration-controller", UID: "c"}})
			u.SetFinalizers([]string{"migration.openshift.io/plan"})
			_ = unstructured.SetNestedField(u.Object, "shop", "spec", "namespaces")
		}
	}
	fc := newFakeCluster(true, objs...)
	c := fc.cleanup()
	c.Phase = PhasePreDelete
	rep, err := c.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if fc.exists(t, kube.MigPlans, ns, "plan-a") {
		t.Fatal("the cleanup left plan-a")
	}
	r := &Restore{Action: kube.Action{Kube: fc.kube, Dynamic: fc.dyn, Host: "https://api.test:6443", Namespace: ns}, Export: "20260102-030405"}
	got, err := r.Run(context.Background())
	if err != nil {
		t.Fatalf("restore of %v: %v", rep.Export, err)
	}
	want := "MigStorage openshift-migration/repo,MigCluster openshift-migration/ocp3,MigHook openshift-migration/hook-1,MigPlan openshift-migration/plan-a,MigPlan openshift-migration/plan-b"
	if strings.Join(got.Created, ",") != want {
		t.Fatalf("created %v, want %s", got.Created, want)
	}
	plan, err := fc.dyn.Resource(kube.MigPlans).Namespace(ns).Get(context.Background(), "plan-a", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.GetOwnerReferences()) != 0 || len(plan.GetFinalizers()) != 0 || plan.Object["status"] != nil {
		t.Errorf("restored plan keeps owner references, finalizers or status: %v", plan.Object)
	}
	if v, _, _ := unstructured.NestedString(plan.Object, "spec", "namespaces"); v != "shop" {
		t.Errorf("restored plan lost its spec: %v", plan.Object["spec"])
	}
	if fc.exists(t, kube.MigMigrations, ns, "mig-1") || fc.exists(t, kube.MigClusters, ns, "host") {
		t.Error("the restore re-created migration history or the host MigCluster")
	}
	again, err := r.Run(context.Background())
	if err != nil || len(again.Created) != 0 || len(again.Existing) != 5 {
		t.Fatalf("second restore: created %v, existing %v, %v", again.Created, again.Existing, err)
	}
	r.Export = "20991231-000000"
	if _, err := r.Run(context.Background()); !kube.IsRefusal(err) || !strings.Contains(err.Error(), "there is no export 20991231-000000 in openshift-migration (exports there: 20260102-030405)") {
		t.Fatalf("unknown export: %v", err)
	}
}

// A kind that answers 404 while the export is taken is not in it: the cleanup deletes none of its
// objects (nor the CRDs) and says to run it again; the rerun exports them and removes everything.
func TestCleanupDeletesOnlyExportedObjects(t *testing.T) {
	t.Parallel()
	objs := populated()
	for i, o := range objs {
		o.(*unstructured.Unstructured).SetUID(types.UID(fmt.Sprint("uid-", i)))
	}
	fc := newFakeCluster(true, objs...)
	var once sync.Once
	fc.dyn.PrependReactor("list", "migplans", func(k8stesting.Action) (bool, runtime.Object, error) {
		hit := false
		once.Do(func() { hit = true })
		if hit {
			// what the API server answers for a kind it does not serve at the moment
			return true, nil, apierrors.NewGenericServerResponse(404, "list", schema.GroupResource{Group: kube.MigrationGroup, Resource: "migplans"}, "", "the server could not find the requested resource", 0, false)
		}
		return false, nil, nil
	})
	_, err := fc.cleanup().Run(context.Background())
	if !kube.IsRefusal(err) || !strings.Contains(err.Error(), "MigPlan openshift-migration/plan-a") || !strings.Contains(err.Error(), "is not in this run's export") {
		t.Fatalf("want a refusal naming the unexported plans, got %v", err)
	}
	if !fc.exists(t, kube.MigPlans, ns, "plan-a") || !fc.exists(t, kube.CRDs, "", "migplans.migration.openshift.io") {
		t.Fatal("an unexported plan, or its CRD, was deleted")
	}
	rep, err := fc.cleanup().Run(context.Background())
	if err != nil {
		t.Fatalf("rerun: %v", err)
	}
	if fc.exists(t, kube.MigPlans, ns, "plan-a") || rep.Exported == 0 {
		t.Fatalf("the rerun did not export and remove the plans (exported %d)", rep.Exported)
	}
}

// On a remote cluster the MigMigration lives on the control cluster: an MTC Backup that has not
// finished, or a running rsync pod, refuses the cleanup naming them and the plan; finished ones and
// a user's own Backups do not.
func TestCleanupRefusesWhileDataMovesThroughARemote(t *testing.T) {
	t.Parallel()
	mtcBackup := func(name, phase string) *unstructured.Unstructured {
		u := newObj(kube.VeleroBackups, "Backup", ns, name).field(phase, "status", "phase").build()
		u.SetLabels(map[string]string{migratedByPlanLabel: "plan-uid-1", migPlanNameLabel: "shop-plan"})
		return u
	}
	users := newObj(kube.VeleroBackups, "Backup", ns, "nightly").field("InProgress", "status", "phase").build()
	for _, tc := range []struct {
		name    string
		objs    []runtime.Object
		pod     *corev1.Pod
		refusal string
	}{
		{name: "backup in progress", objs: []runtime.Object{mtcBackup("shop-1-stage-abcde", "InProgress")},
			refusal: "Velero Backup openshift-migration/shop-1-stage-abcde (InProgress) show that a migration of MigPlan shop-plan is still moving data through this cluster, so nothing was deleted"},
		{name: "rsync pod running", pod: &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "directvolumemigration-rsync-transfer", Namespace: "shop",
			Labels: map[string]string{"owner": "directvolumemigration", migratedByPlanLabel: "plan-uid-2"}}, Status: corev1.PodStatus{Phase: corev1.PodRunning}},
			refusal: "rsync pod shop/directvolumemigration-rsync-transfer show that a migration of the MigPlan with uid plan-uid-2"},
		{name: "finished and foreign", objs: []runtime.Object{mtcBackup("shop-1-initial-abcde", "Completed"), users}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			fc := newFakeCluster(true, append(populated(), tc.objs...)...)
			if tc.pod != nil {
				if _, err := fc.kube.CoreV1().Pods(tc.pod.Namespace).Create(context.Background(), tc.pod, metav1.CreateOptions{}); err != nil {
					t.Fatal(err)
				}
			}
			_, err := fc.cleanup().Run(context.Background())
			if tc.refusal == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !kube.IsRefusal(err) || !strings.Contains(err.Error(), tc.refusal) {
				t.Fatalf("want a refusal with\n%s\ngot %v", tc.refusal, err)
			}
			if !fc.exists(t, kube.MigPlans, ns, "plan-a") {
				t.Fatal("the refused cleanup deleted something")
			}
		})
	}
}

// With --release, an MTC the release did not install is left as it is: a hand-made Subscription, or
// a MigrationController without the release's instance label, stops the cleanup before it exports or
// deletes anything, with a report that says why; the release's own MTC goes as before.
func TestCleanupLeavesAnMTCTheReleaseDidNotInstall(t *testing.T) {
	t.Parallel()
	mark := func(objs []runtime.Object, subRelease, mcRelease string) []runtime.Object {
		for _, o := range objs {
			u := o.(*unstructured.Unstructured)
			switch {
			case u.GetKind() == "Subscription" && u.GetName() == "mtc-operator" && subRelease != "":
				u.SetAnnotations(map[string]string{kube.HelmReleaseNameKey: subRelease})
			case u.GetKind() == "MigrationController" && mcRelease != "":
				u.SetLabels(map[string]string{kube.InstanceLabel: mcRelease})
			}
		}
		return objs
	}
	for _, tc := range []struct {
		name, sub, mc, want string
	}{
		{"manual install", "", "", "MigrationController openshift-migration/migration-controller was not made by a Helm release, Subscription openshift-migration/mtc-operator was not installed by Helm; release mtc did not install this MTC"},
		{"another release", "other", "other", "belongs to release other"},
		{"hand-made controller", "mtc", "", "MigrationController openshift-migration/migration-controller was not made by a Helm release; release mtc did not install this MTC"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			fc := newFakeCluster(true, mark(populated(), tc.sub, tc.mc)...)
			c := fc.cleanup()
			c.Release = "mtc"
			rep, err := c.Run(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(rep.Foreign, tc.want) {
				t.Fatalf("report says %q, want %q", rep.Foreign, tc.want)
			}
			if m := fc.mutations(); len(m) != 0 {
				t.Fatalf("the cleanup changed a foreign MTC: %v", m)
			}
		})
	}
	fc := newFakeCluster(true, mark(populated(), "mtc", "mtc")...)
	c := fc.cleanup()
	c.Release = "mtc"
	rep, err := c.Run(context.Background())
	if err != nil || rep.Foreign != "" || fc.exists(t, kube.MigrationControllers, ns, "migration-controller") {
		t.Fatalf("the release's own MTC: foreign %q, err %v", rep.Foreign, err)
	}
}

// A deleted CRD whose finalizer failed and waits in the API server's backoff gets an annotation that
// makes the server retry at once; one whose finalizer is still at work is left alone.
func TestCleanupRequeuesAStalledCRDFinalizer(t *testing.T) {
	t.Parallel()
	stalled := crd(kube.VeleroGroup, "backupstoragelocations")
	busy := crd(kube.MigrationGroup, "migplans")
	for u, reason := range map[*unstructured.Unstructured]string{stalled: "InstanceDeletionFailed", busy: "InstanceDeletionInProgress"} {
		u.SetFinalizers([]string{"customresourcecleanup.apiextensions.k8s.io"})
		_ = unstructured.SetNestedSlice(u.Object, []any{map[string]any{"type": "Terminating", "status": "True", "reason": reason,
			"message": "could not list instances: storage is (re)initializing"}}, "status", "conditions")
	}
	fc := newFakeCluster(false, stalled, busy)
	var patched []string
	var mu sync.Mutex
	tr := fc.dyn.Tracker()
	// The API server's finalizer: it ends the stalled CRD only when asked to retry; the busy one ends by
	// itself once the stalled one is gone.
	fc.dyn.PrependReactor("patch", "customresourcedefinitions", func(a k8stesting.Action) (bool, runtime.Object, error) {
		pa := a.(k8stesting.PatchAction)
		if !strings.Contains(string(pa.GetPatch()), finalizerRequeueAnnotation) {
			return false, nil, nil
		}
		mu.Lock()
		patched = append(patched, pa.GetName())
		mu.Unlock()
		for _, n := range []string{pa.GetName(), busy.GetName()} {
			if err := tr.Delete(kube.CRDs, "", n); err != nil {
				return true, nil, err
			}
		}
		return true, nil, nil
	})
	c := &run{Cleanup: fc.cleanup()}
	targets := []target{targetOf(kube.CRDs, "CustomResourceDefinition", stalled), targetOf(kube.CRDs, "CustomResourceDefinition", busy)}
	if err := c.deleteAndWait(context.Background(), ns, &Step{}, "the CRDs", targets); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(patched, []string{stalled.GetName()}) {
		t.Fatalf("want only the stalled CRD asked to retry, got %v", patched)
	}
}

func TestFinalizerStalled(t *testing.T) {
	t.Parallel()
	u := crd(kube.VeleroGroup, "backups")
	_ = unstructured.SetNestedSlice(u.Object, []any{map[string]any{"type": "Terminating", "status": "True", "reason": "InstanceDeletionCheck", "message": "x"}}, "status", "conditions")
	if got := finalizerStalled(u); got != "" {
		t.Fatalf("a CRD not being deleted is not stalled, got %q", got)
	}
	now := metav1.Now()
	u.SetDeletionTimestamp(&now)
	if got := finalizerStalled(u); got != "InstanceDeletionCheck: x" {
		t.Fatalf("got %q", got)
	}
}

// OLM's catalog operator may still apply an InstallPlan after its Subscription and the InstallPlan are
// gone, and makes again a CRD or an OLM-labelled ClusterRole the cleanup has just deleted: those are
// deleted again. A ClusterRole that someone else makes again is not the cleanup's: the wait names it.
func TestCleanupDeletesAgainWhatOLMMadeAgain(t *testing.T) {
	t.Parallel()
	crdObj := crd(kube.MigrationGroup, "migplans")
	crdObj.SetUID("crd-1")
	olmRole := newObj(kube.ClusterRoles, "ClusterRole", "", "dpa-editor-role").build()
	olmRole.SetUID("role-1")
	olmRole.SetLabels(map[string]string{"olm.managed": "true"})
	userRole := newObj(kube.ClusterRoles, "ClusterRole", "", "users-migration-viewer").build()
	userRole.SetUID("role-2")
	fc := newFakeCluster(true, crdObj, olmRole, userRole)
	tr := fc.dyn.Tracker()
	made := map[string]bool{}
	var mu sync.Mutex
	// the installer makes each object again, once, right after its first delete
	fc.dyn.PrependReactor("delete", "*", func(a k8stesting.Action) (bool, runtime.Object, error) {
		da := a.(k8stesting.DeleteAction)
		o, err := tr.Get(da.GetResource(), "", da.GetName())
		if err != nil {
			return true, nil, err
		}
		if err := tr.Delete(da.GetResource(), "", da.GetName()); err != nil {
			return true, nil, err
		}
		mu.Lock()
		defer mu.Unlock()
		if !made[da.GetName()] {
			made[da.GetName()] = true
			again := o.(*unstructured.Unstructured).DeepCopy()
			again.SetUID(again.GetUID() + "-again")
			return true, nil, tr.Create(da.GetResource(), again, "")
		}
		return true, nil, nil
	})
	c := &run{Cleanup: fc.cleanup()}
	targets := []target{targetOf(kube.CRDs, "CustomResourceDefinition", crdObj), targetOf(kube.ClusterRoles, "ClusterRole", olmRole)}
	if err := c.deleteAndWait(context.Background(), ns, &Step{}, "the CRDs", targets); err != nil {
		t.Fatal(err)
	}
	if fc.exists(t, kube.CRDs, "", crdObj.GetName()) || fc.exists(t, kube.ClusterRoles, "", olmRole.GetName()) {
		t.Fatal("what OLM made again is still there")
	}
	err := c.deleteAndWait(context.Background(), ns, &Step{}, "the cluster roles", []target{targetOf(kube.ClusterRoles, "ClusterRole", userRole)})
	if err == nil || !strings.Contains(err.Error(), "ClusterRole users-migration-viewer (made again after the delete)") {
		t.Fatalf("want the wait to name the ClusterRole made again by someone else, got %v", err)
	}
	if !fc.exists(t, kube.ClusterRoles, "", userRole.GetName()) {
		t.Fatal("the cleanup deleted again a ClusterRole that OLM did not make")
	}
}

// Removing an MTC installed by hand (no --release) takes its OperatorGroup too once nothing in the
// namespace uses it, so that helm install can make its own; a Helm release's OperatorGroup, one that
// still serves another operator, and any OperatorGroup when the chart's hook runs, stay.
func TestCleanupOperatorGroupOfAHandInstall(t *testing.T) {
	t.Parallel()
	og := func(name string, helm bool) *unstructured.Unstructured {
		b := newObj(kube.OperatorGroups, "OperatorGroup", ns, name)
		if helm {
			b = b.annotations(kube.HelmReleaseNameKey, "other")
		}
		return b.build()
	}
	for _, tc := range []struct {
		name     string
		release  string
		extra    []runtime.Object
		wantGone bool
		wantKept string
	}{
		{name: "hand install", wantGone: true},
		{name: "chart hook", release: "mtc"},
		{name: "another operator", extra: []runtime.Object{newObj(kube.Subscriptions, "Subscription", ns, "cert-utils").field("cert-utils-operator", "spec", "name").build()},
			wantKept: "OperatorGroup openshift-migration/openshift-migration: it still serves Subscription cert-utils"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			objs := append(populated(), og("openshift-migration", false), og("helm-made", true))
			fc := newFakeCluster(true, append(objs, tc.extra...)...)
			c := fc.cleanup()
			c.Release = tc.release
			rep, err := c.Run(context.Background())
			if err != nil && tc.release == "" {
				t.Fatal(err)
			}
			if gone := !fc.exists(t, kube.OperatorGroups, ns, "openshift-migration"); gone != tc.wantGone {
				t.Fatalf("hand-made OperatorGroup gone=%v, want %v", gone, tc.wantGone)
			}
			if !fc.exists(t, kube.OperatorGroups, ns, "helm-made") {
				t.Fatal("the cleanup deleted a Helm release's OperatorGroup")
			}
			var kept []string
			for _, st := range rep.Steps {
				kept = append(kept, st.Kept...)
			}
			if tc.wantKept != "" && !slices.Contains(kept, tc.wantKept) {
				t.Fatalf("want the report to keep %q, got %q", tc.wantKept, kept)
			}
		})
	}
}

// An identity that may not list OperatorGroups (the chart's hook ServiceAccount, run without
// --release) finishes the cleanup and is told to delete a hand-made OperatorGroup itself.
func TestCleanupOperatorGroupsForbidden(t *testing.T) {
	t.Parallel()
	fc := newFakeCluster(true, populated()...)
	fc.dyn.PrependReactor("list", "operatorgroups", func(a k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewForbidden(schema.GroupResource{Group: "operators.coreos.com", Resource: "operatorgroups"}, "", errors.New("no rule"))
	})
	rep, err := fc.cleanup().Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var kept []string
	for _, st := range rep.Steps {
		kept = append(kept, st.Kept...)
	}
	if !slices.ContainsFunc(kept, func(k string) bool { return strings.Contains(k, "may not list them; delete a hand-made one yourself") }) {
		t.Fatalf("want a note about the OperatorGroups, got %q", kept)
	}
}

// A Velero Backup of the user's in MTC's namespace (no mig-controller label) keeps the velero.io CRDs,
// which deleting would delete it with; MTC's own Backups there do not.
func TestCleanupKeepsVeleroForTheUsersBackupInMTCsNamespace(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		labels map[string]string
		keep   bool
	}{
		{"the user's", nil, true},
		{"MTC's", map[string]string{"migration.openshift.io/migrated-by-migplan": "uid-1"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := newObj(kube.VeleroBackups, "Backup", ns, "nightly").field("Completed", "status", "phase").build()
			b.SetLabels(tc.labels)
			fc := newFakeCluster(true, append(populated(), b)...)
			rep, err := fc.cleanup().Run(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if kept := fc.exists(t, kube.CRDs, "", "backups.velero.io"); kept != tc.keep {
				t.Fatalf("velero CRDs kept=%v, want %v", kept, tc.keep)
			}
			// The user's Backup in MTC's namespace is served by the OADP installed there: it stays too.
			if kept := fc.exists(t, kube.CSVs, ns, "oadp-operator.v1.2.3"); kept != tc.keep {
				t.Fatalf("MTC's OADP kept=%v, want %v", kept, tc.keep)
			}
			var text strings.Builder
			_ = rep.WriteText(&text)
			if tc.keep && !strings.Contains(text.String(), "1 Velero Backups in openshift-migration that MTC did not make") {
				t.Errorf("the report does not name the user's Backup:\n%s", text.String())
			}
		})
	}
}

// An InstallPlan OLM has just completed may still get a last pass from a catalog operator sync that
// started on a stale cache: the operator stays until the settle time after the completion has passed.
func TestCleanupLetsOLMSettleAfterAnInstallPlanCompleted(t *testing.T) {
	t.Parallel()
	completed := func(ago time.Duration) *unstructured.Unstructured {
		ip := newObj(kube.InstallPlans, "InstallPlan", ns, "install-abcde").field("Complete", "status", "phase").build()
		_ = unstructured.SetNestedSlice(ip.Object, []any{map[string]any{"type": "Installed", "status": "True",
			"lastTransitionTime": time.Now().Add(-ago).UTC().Format(time.RFC3339)}}, "status", "conditions")
		return ip
	}
	fc := newFakeCluster(true, append(populated(), completed(0))...)
	c := fc.cleanup()
	c.OLMSettle = time.Hour
	if _, err := c.Run(context.Background()); err == nil || !strings.Contains(err.Error(), "may still run a last pass of the plan") {
		t.Fatalf("want a wait for OLM's last pass, got %v", err)
	}
	if !fc.exists(t, kube.Subscriptions, ns, "mtc-operator") {
		t.Fatal("the operator was removed right after OLM completed its InstallPlan")
	}
	fc = newFakeCluster(true, append(populated(), completed(2*time.Hour))...)
	c = fc.cleanup()
	c.OLMSettle = time.Hour
	if _, err := c.Run(context.Background()); err != nil {
		t.Fatalf("an InstallPlan completed long ago: %v", err)
	}
	// OLM stamps the Installed condition with the time its last pass started: when that pass was
	// long, the plan finished when its status was written (managedFields), not then.
	justWritten := completed(2 * time.Hour)
	now := metav1.Now()
	justWritten.SetManagedFields([]metav1.ManagedFieldsEntry{
		{Manager: "catalog", Operation: metav1.ManagedFieldsOperationUpdate, Time: &metav1.Time{Time: now.Add(-3 * time.Hour)}},
		{Manager: "catalog", Operation: metav1.ManagedFieldsOperationUpdate, Subresource: "status", Time: &now},
	})
	fc = newFakeCluster(true, append(populated(), justWritten)...)
	c = fc.cleanup()
	c.OLMSettle = time.Hour
	if _, err := c.Run(context.Background()); err == nil || !strings.Contains(err.Error(), "may still run a last pass of the plan") {
		t.Fatalf("want a wait counted from the plan's last status write, got %v", err)
	}
	// On a slow cluster the passes take longer than the settle time: the wait follows them, up to
	// three times the settle time. Here OLM's passes took 20 minutes, ending 10 minutes ago.
	slow := completed(10 * time.Minute)
	_ = unstructured.SetNestedField(slow.Object, time.Now().Add(-30*time.Minute).UTC().Format(time.RFC3339), "status", "startTime")
	fc = newFakeCluster(true, append(populated(), slow)...)
	c = fc.cleanup()
	c.OLMSettle = 5 * time.Minute
	if _, err := c.Run(context.Background()); err == nil || !strings.Contains(err.Error(), "for up to 15m0s") {
		t.Fatalf("want a wait as long as OLM's slow passes, at most three settle times, got %v", err)
	}
	// A CSV that has just changed phase, with no InstallPlan in the namespace (an operator not
	// installed through a plan): there is no plan for a last pass to run again, so no wait.
	var objs []runtime.Object
	for _, o := range populated() {
		if u, ok := o.(*unstructured.Unstructured); ok && u.GetKind() == "ClusterServiceVersion" {
			u = u.DeepCopy()
			_ = unstructured.SetNestedField(u.Object, time.Now().UTC().Format(time.RFC3339), "status", "lastTransitionTime")
			o = u
		}
		objs = append(objs, o)
	}
	fc = newFakeCluster(true, objs...)
	c = fc.cleanup()
	c.OLMSettle = time.Hour
	if _, err := c.Run(context.Background()); err != nil {
		t.Fatalf("a fresh CSV without an InstallPlan: %v", err)
	}
	// The same CSV beside a plan completed long ago: the CSV's change is OLM's, so the wait follows it.
	fc = newFakeCluster(true, append(objs, completed(2*time.Hour))...)
	c = fc.cleanup()
	c.OLMSettle = time.Hour
	if _, err := c.Run(context.Background()); err == nil || !strings.Contains(err.Error(), "may still run a last pass of the plan") {
		t.Fatalf("want a wait after the CSV OLM changed, got %v", err)
	}
	// The fresh CSV without MTC's Subscription (helm uninstall --no-hooks deleted it, and garbage
	// collection its InstallPlan, maybe in the middle of a pass): the wait follows the CSV. The
	// post-delete hook does not wait again: the pre-delete hook waited while the Subscription was there.
	var noSub []runtime.Object
	for _, o := range objs {
		if u, ok := o.(*unstructured.Unstructured); ok && u.GetKind() == "Subscription" && u.GetName() == "mtc-operator" {
			continue
		}
		noSub = append(noSub, o)
	}
	fc = newFakeCluster(true, noSub...)
	c = fc.cleanup()
	c.OLMSettle = time.Hour
	if _, err := c.Run(context.Background()); err == nil || !strings.Contains(err.Error(), "may still run a last pass of the plan") {
		t.Fatalf("want a wait after the CSV OLM changed once MTC's Subscription is gone, got %v", err)
	}
	if !fc.exists(t, kube.CSVs, ns, "oadp-operator.v1.2.3") {
		t.Fatal("the operator was removed while a pass of its garbage-collected InstallPlan may still run")
	}
	// The post-delete hook, after Helm deleted the Subscription: the pre-delete hook waited for the plan,
	// so only OLMQuiet for a resolution from a cache that still held the Subscription.
	fc = newFakeCluster(true, noSub...)
	c = fc.cleanup()
	c.OLMSettle, c.OLMQuiet = time.Hour, time.Hour
	c.Phase = PhasePostDelete
	if _, err := c.Run(context.Background()); err == nil || !strings.Contains(err.Error(), "may still resolve the namespace from a cache that holds the deleted Subscription") {
		t.Fatalf("want the post-delete hook to wait OLMQuiet after the CSV changed, got %v", err)
	}
	fc = newFakeCluster(true, noSub...)
	c = fc.cleanup()
	c.OLMSettle = time.Hour
	c.Phase = PhasePostDelete
	if _, err := c.Run(context.Background()); err != nil {
		t.Fatalf("the post-delete hook waited for more than OLMQuiet: %v", err)
	}
}

// The velero CRDs stay for the user's own Velero; once MTC's OADP is gone, the cleanup removes the
// labels OLM put on them for that OADP and the ClusterRoles OLM made for them (aggregated into the
// cluster's admin, edit and view). A CRD another OLM operator lists as its component is not touched.
func TestCleanupHandsKeptCRDsBackFromOLM(t *testing.T) {
	t.Parallel()
	var objs []runtime.Object
	for _, o := range populated() {
		u := o.(*unstructured.Unstructured)
		switch u.GetName() {
		case "backups.velero.io":
			u = u.DeepCopy()
			u.SetUID("crd-backups")
			u.SetLabels(map[string]string{"olm.managed": "true", "operators.coreos.com/redhat-oadp-operator." + ns: "", "team": "backup"})
			u.SetAnnotations(map[string]string{"operatorframework.io/installed-alongside-0a1b": ns + "/oadp-operator.v1.2.3", "team/note": "ours"})
		case "schedules.velero.io":
			// OLM labels an install's components when it gets to them; its note is there at once.
			u = u.DeepCopy()
			u.SetUID("crd-schedules")
			u.SetAnnotations(map[string]string{"operatorframework.io/installed-alongside-0a1b": ns + "/oadp-operator.v1.2.3"})
		case "restores.velero.io":
			u = u.DeepCopy()
			u.SetUID("crd-restores")
			u.SetLabels(map[string]string{"olm.managed": "true", "operators.coreos.com/velero.velero-system": ""})
		}
		objs = append(objs, u)
	}
	role := func(name, uid string) *unstructured.Unstructured {
		r := newObj(kube.ClusterRoles, "ClusterRole", "", name).build()
		r.SetLabels(map[string]string{"olm.managed": "true", "rbac.authorization.k8s.io/aggregate-to-admin": "true"})
		r.SetOwnerReferences([]metav1.OwnerReference{{APIVersion: "apiextensions.k8s.io/v1", Kind: "CustomResourceDefinition", Name: "x", UID: types.UID(uid)}})
		return r
	}
	users := newObj(kube.VeleroResources()[0], "BackupRepository", "velero", "repo-1").build()
	objs = append(objs, users, role("backups.velero.io-v1-admin", "crd-backups"), role("backups.velero.io-v1-crdview", "crd-backups"),
		role("restores.velero.io-v1-admin", "crd-restores"), role("schedules.velero.io-v1-view", "crd-schedules"))
	fc := newFakeCluster(true, objs...)
	if _, err := fc.cleanup().Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	got, err := fc.dyn.Resource(kube.CRDs).Get(context.Background(), "backups.velero.io", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("the kept CRD: %v", err)
	}
	if l := got.GetLabels(); !reflect.DeepEqual(l, map[string]string{"team": "backup"}) {
		t.Errorf("labels of the kept CRD: %v, want only the user's", l)
	}
	if a := got.GetAnnotations(); !reflect.DeepEqual(a, map[string]string{"team/note": "ours"}) {
		t.Errorf("annotations of the kept CRD: %v, want only the user's", a)
	}
	for _, n := range []string{"backups.velero.io-v1-admin", "backups.velero.io-v1-crdview", "schedules.velero.io-v1-view"} {
		if fc.exists(t, kube.ClusterRoles, "", n) {
			t.Errorf("OLM's ClusterRole %s for the kept CRD stayed", n)
		}
	}
	other, err := fc.dyn.Resource(kube.CRDs).Get(context.Background(), "restores.velero.io", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if other.GetLabels()["olm.managed"] != "true" || !fc.exists(t, kube.ClusterRoles, "", "restores.velero.io-v1-admin") {
		t.Error("the cleanup touched a CRD that another OLM operator lists as its component")
	}
	// No kept CRD names MTC's OADP as its operator any more: OLM's Operator object for it goes.
	if fc.exists(t, kube.Operators, "", "redhat-oadp-operator."+ns) {
		t.Error("the Operator object of MTC's OADP stayed")
	}
}

// A resolution OLM started from a stale cache makes, after the Subscriptions and CSVs went, a new
// InstallPlan for the OADP CSV and the CSV itself: the cleanup deletes both again, says so, and the
// cluster ends without them.
func TestCleanupDeletesWhatAStaleResolutionMakesAgain(t *testing.T) {
	t.Parallel()
	fc := newFakeCluster(true, populated()...)
	var mu sync.Mutex
	csvGone, remade := false, false
	fc.dyn.PrependReactor("delete", "clusterserviceversions", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if a.(k8stesting.DeleteAction).GetName() == "oadp-operator.v1.2.3" {
			mu.Lock()
			csvGone = true
			mu.Unlock()
		}
		return false, nil, nil
	})
	fc.dyn.PrependReactor("list", "installplans", func(a k8stesting.Action) (bool, runtime.Object, error) {
		mu.Lock()
		defer mu.Unlock()
		if csvGone && !remade {
			remade = true
			plan := newObj(kube.InstallPlans, "InstallPlan", ns, "install-stale").field([]any{"oadp-operator.v1.2.3"}, "spec", "clusterServiceVersionNames").build()
			for _, o := range []*unstructured.Unstructured{plan, newObj(kube.CSVs, "ClusterServiceVersion", ns, "oadp-operator.v1.2.3").build()} {
				gvr := kube.InstallPlans
				if o.GetKind() == "ClusterServiceVersion" {
					gvr = kube.CSVs
				}
				if err := fc.dyn.Tracker().Create(gvr, o, ns); err != nil {
					return true, nil, err
				}
			}
		}
		return false, nil, nil
	})
	rep, err := fc.cleanup().Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !remade {
		t.Fatal("the test never made the CSV again: the cleanup did not look for what OLM makes again")
	}
	if fc.exists(t, kube.CSVs, ns, "oadp-operator.v1.2.3") || fc.exists(t, kube.InstallPlans, ns, "install-stale") {
		t.Fatal("what the stale resolution made is still there")
	}
	var text strings.Builder
	_ = rep.WriteText(&text)
	if !strings.Contains(text.String(), "note: ClusterServiceVersion openshift-migration/oadp-operator.v1.2.3: OLM made it again after it was deleted; deleted again") {
		t.Fatalf("the report does not say what was deleted again:\n%s", text.String())
	}
}
