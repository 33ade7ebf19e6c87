package integration

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"

	"github.com/mtc-helm/mtc-helm/hooks/kube"
	"github.com/mtc-helm/mtc-helm/internal/mtccrds"
)

const ns = kube.Namespace

// world creates objects on a real API server for a test.
type world struct {
	t    testing.TB
	ctx  context.Context
	kube kubernetes.Interface
	dyn  dynamic.Interface
}

func newWorld(t testing.TB, k kubernetes.Interface, d dynamic.Interface) *world {
	return &world{t: t, ctx: context.Background(), kube: k, dyn: d}
}

func (w *world) namespace(name string) {
	w.t.Helper()
	_, err := w.kube.CoreV1().Namespaces().Create(w.ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		w.t.Fatal(err)
	}
}

func (w *world) crds(kinds ...[]mtccrds.Kind) {
	w.t.Helper()
	dir, err := mtccrds.Dir()
	if err != nil {
		w.t.Fatal(err)
	}
	for _, k := range kinds {
		if err := mtccrds.Install(w.ctx, w.dyn, dir, k); err != nil {
			w.t.Fatal(err)
		}
	}
}

// obj creates an object and, when status is given, sets it through the status subresource.
func (w *world) obj(gvr schema.GroupVersionResource, kind, namespace, name string, spec, status map[string]any, mutate ...func(*unstructured.Unstructured)) *unstructured.Unstructured {
	w.t.Helper()
	u := &unstructured.Unstructured{Object: map[string]any{"apiVersion": gvr.GroupVersion().String(), "kind": kind}}
	u.SetName(name)
	u.SetNamespace(namespace)
	if spec != nil {
		u.Object["spec"] = spec
	}
	for _, m := range mutate {
		m(u)
	}
	created, err := w.dyn.Resource(gvr).Namespace(namespace).Create(w.ctx, u, metav1.CreateOptions{})
	if err != nil {
		w.t.Fatalf("create %s %s: %v", kind, name, err)
	}
	if status != nil {
		created.Object["status"] = status
		created, err = w.writeStatus(gvr, created)
		if err != nil {
			w.t.Fatalf("set status of %s %s: %v", kind, name, err)
		}
	}
	return created
}

func (w *world) setStatus(gvr schema.GroupVersionResource, namespace, name string, status map[string]any) {
	w.t.Helper()
	cur, err := w.dyn.Resource(gvr).Namespace(namespace).Get(w.ctx, name, metav1.GetOptions{})
	if err != nil {
		w.t.Fatal(err)
	}
	cur.Object["status"] = status
	if _, err := w.writeStatus(gvr, cur); err != nil {
		w.t.Fatal(err)
	}
}

// writeStatus writes u's status as its controller would: through the status subresource where the
// CRD has one (MigrationController, most of Velero's kinds), else with an update of the whole
// object, as mig-controller does for its kinds.
// A controller of the cluster (OLM's, on a CSV) may change the object meanwhile: the status is then
// written onto the newest version.
func (w *world) writeStatus(gvr schema.GroupVersionResource, u *unstructured.Unstructured) (*unstructured.Unstructured, error) {
	ri := w.dyn.Resource(gvr).Namespace(u.GetNamespace())
	status := u.Object["status"]
	var out *unstructured.Unstructured
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		var err error
		out, err = ri.UpdateStatus(w.ctx, u, metav1.UpdateOptions{})
		if apierrors.IsNotFound(err) {
			out, err = ri.Update(w.ctx, u, metav1.UpdateOptions{})
		}
		if apierrors.IsConflict(err) {
			cur, gerr := ri.Get(w.ctx, u.GetName(), metav1.GetOptions{})
			if gerr != nil {
				return gerr
			}
			cur.Object["status"] = status
			u = cur
		}
		return err
	})
	return out, err
}

func (w *world) exists(gvr schema.GroupVersionResource, namespace, name string) bool {
	w.t.Helper()
	_, err := w.dyn.Resource(gvr).Namespace(namespace).Get(w.ctx, name, metav1.GetOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		w.t.Fatalf("get %s %s: %v", gvr.Resource, name, err)
	}
	return err == nil
}

func (w *world) count(gvr schema.GroupVersionResource, namespace string) int {
	w.t.Helper()
	l, err := w.dyn.Resource(gvr).Namespace(namespace).List(w.ctx, metav1.ListOptions{})
	if err != nil {
		if apierrors.IsNotFound(err) {
			return 0
		}
		w.t.Fatalf("list %s: %v", gvr.Resource, err)
	}
	return len(l.Items)
}

func conditions(types ...string) map[string]any {
	var l []any
	for _, t := range types {
		l = append(l, map[string]any{"type": t, "status": "True", "reason": t, "message": t, "lastTransitionTime": "2026-01-01T00:00:00Z"})
	}
	return map[string]any{"conditions": l}
}

// installMTC plays an MTC 1.8 install through OLM on an ocp4 cluster: the CRDs, the operator's
// Subscription and CSV, a MigrationController with what it owns, migration history, and the cluster-scoped
// leftovers the operator and OLM create. plans is how many MigPlans (each with a finished MigMigration).
func (w *world) installMTC(plans int) {
	w.t.Helper()
	w.namespace(ns)
	w.crds(mtccrds.MTC, mtccrds.Velero)
	w.obj(kube.Subscriptions, "Subscription", ns, "mtc-operator",
		map[string]any{"name": "mtc-operator", "channel": "release-v1.8", "source": "redhat-operators", "sourceNamespace": "openshift-marketplace"}, nil)
	w.obj(kube.CSVs, "ClusterServiceVersion", ns, "mtc-operator.v1.8.8",
		map[string]any{"displayName": "Migration Toolkit for Containers Operator", "install": map[string]any{"strategy": "deployment"}},
		map[string]any{"phase": "Succeeded"})
	mc := w.obj(kube.MigrationControllers, "MigrationController", ns, "migration-controller",
		map[string]any{"cluster_name": "host", "migration_velero": true, "migration_controller": true, "migration_ui": true, "version": "1.8.8"},
		conditions("Successful"))
	owned := func(u *unstructured.Unstructured) {
		u.SetOwnerReferences([]metav1.OwnerReference{{APIVersion: "migration.openshift.io/v1alpha1", Kind: "MigrationController", Name: mc.GetName(), UID: mc.GetUID()}})
	}
	w.obj(kube.MigClusters, "MigCluster", ns, "host", map[string]any{"isHostCluster": true}, conditions("Ready"), owned)
	w.obj(kube.MigClusters, "MigCluster", ns, "ocp3", map[string]any{"isHostCluster": false, "url": "https://ocp3.example.com:8443"}, conditions("Ready"))
	w.obj(kube.MigStorages, "MigStorage", ns, "repo", map[string]any{"backupStorageProvider": "aws",
		"backupStorageConfig": map[string]any{"awsBucketName": "mtc-repo", "credsSecretRef": map[string]any{"name": "mtc-repo", "namespace": ns}}}, conditions("Ready"))
	for i := 0; i < plans; i++ {
		name := "plan-" + itoa3(i)
		w.obj(kube.MigPlans, "MigPlan", ns, name, map[string]any{"srcMigClusterRef": map[string]any{"name": "ocp3"}}, conditions("Ready"))
		w.obj(kube.MigMigrations, "MigMigration", ns, "mig-"+itoa3(i),
			map[string]any{"migPlanRef": map[string]any{"name": name, "namespace": ns}, "stage": false},
			map[string]any{"phase": "Completed", "conditions": conditions("Succeeded")["conditions"]})
	}
	// What MTC's operator makes outside the namespace carries its mark; operator.yml's role and a
	// user's role with a Velero-like name do not.
	mark := map[string]string{"operator-sdk/primary-resource": ns + "/migration-controller",
		"operator-sdk/primary-resource-type": "MigrationController.migration.openshift.io"}
	for n, a := range map[string]map[string]string{"migration-operator": nil, "migration-controller": mark, "migration-velero": mark, "velero-view": nil} {
		if _, err := w.kube.RbacV1().ClusterRoles().Create(w.ctx, &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: n, Annotations: a}}, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			w.t.Fatal(err)
		}
	}
	crb := &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "migration-operator"},
		RoleRef:  rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: "migration-operator"},
		Subjects: []rbacv1.Subject{{Kind: "ServiceAccount", Name: "migration-operator", Namespace: ns}}}
	if _, err := w.kube.RbacV1().ClusterRoleBindings().Create(w.ctx, crb, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		w.t.Fatal(err)
	}
	scc := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "security.openshift.io/v1", "kind": "SecurityContextConstraints",
		"metadata":                 map[string]any{"name": "rsync-anyuid", "annotations": toAny(mark)},
		"allowHostDirVolumePlugin": false, "allowHostIPC": false, "allowHostNetwork": false, "allowHostPID": false,
		"allowHostPorts": false, "allowPrivilegedContainer": false, "allowedCapabilities": nil, "defaultAddCapabilities": nil,
		"priority": nil, "readOnlyRootFilesystem": false, "requiredDropCapabilities": nil, "volumes": []any{"*"},
	}}
	if _, err := w.dyn.Resource(kube.SCCs).Create(w.ctx, scc, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		w.t.Fatal(err)
	}
	oc := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "oauth.openshift.io/v1", "kind": "OAuthClient", "metadata": map[string]any{"name": "migration", "annotations": toAny(mark)}}}
	if _, err := w.dyn.Resource(kube.OAuthClients).Create(w.ctx, oc, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		w.t.Fatal(err)
	}
}

func itoa3(i int) string {
	return string([]byte{byte('0' + i/100%10), byte('0' + i/10%10), byte('0' + i%10)})
}

// assertClean checks that nothing MTC installed is left, and that the export survived.
// ownedBy makes the MTC of installMTC look as a chart install of release leaves it: the Subscription
// managed by Helm for the release, the MigrationController with the release's instance label, and no
// operator.yml RBAC (an OLM install has none).
func (w *world) ownedBy(release string) {
	w.t.Helper()
	sub, err := w.dyn.Resource(kube.Subscriptions).Namespace(ns).Get(w.ctx, "mtc-operator", metav1.GetOptions{})
	if err != nil {
		w.t.Fatal(err)
	}
	sub.SetAnnotations(map[string]string{kube.HelmReleaseNameKey: release, "meta.helm.sh/release-namespace": ns})
	if _, err := w.dyn.Resource(kube.Subscriptions).Namespace(ns).Update(w.ctx, sub, metav1.UpdateOptions{}); err != nil {
		w.t.Fatal(err)
	}
	mc, err := w.dyn.Resource(kube.MigrationControllers).Namespace(ns).Get(w.ctx, "migration-controller", metav1.GetOptions{})
	if err != nil {
		w.t.Fatal(err)
	}
	mc.SetLabels(map[string]string{kube.InstanceLabel: release})
	if _, err := w.dyn.Resource(kube.MigrationControllers).Namespace(ns).Update(w.ctx, mc, metav1.UpdateOptions{}); err != nil {
		w.t.Fatal(err)
	}
	if err := w.kube.RbacV1().ClusterRoles().Delete(w.ctx, "migration-operator", metav1.DeleteOptions{}); err != nil {
		w.t.Fatal(err)
	}
	if err := w.kube.RbacV1().ClusterRoleBindings().Delete(w.ctx, "migration-operator", metav1.DeleteOptions{}); err != nil {
		w.t.Fatal(err)
	}
}

func (w *world) assertClean() {
	w.t.Helper()
	crds, err := w.dyn.Resource(kube.CRDs).List(w.ctx, metav1.ListOptions{})
	if err != nil {
		w.t.Fatal(err)
	}
	for _, c := range crds.Items {
		g, _, _ := unstructured.NestedString(c.Object, "spec", "group")
		if g == kube.MigrationGroup || g == kube.VeleroGroup {
			w.t.Errorf("CRD %s is left", c.GetName())
		}
	}
	for _, o := range []struct {
		gvr       schema.GroupVersionResource
		namespace string
		name      string
	}{
		{kube.Subscriptions, ns, "mtc-operator"}, {kube.CSVs, ns, "mtc-operator.v1.8.8"},
		{kube.ClusterRoles, "", "migration-operator"}, {kube.ClusterRoles, "", "migration-controller"},
		{kube.ClusterRoles, "", "migration-velero"}, {kube.ClusterRoleBindings, "", "migration-operator"},
		{kube.SCCs, "", "rsync-anyuid"}, {kube.OAuthClients, "", "migration"},
	} {
		if w.exists(o.gvr, o.namespace, o.name) {
			w.t.Errorf("%s %s is left", o.gvr.Resource, o.name)
		}
	}
	if !w.exists(kube.ClusterRoles, "", "velero-view") {
		w.t.Error("the user's ClusterRole velero-view, which MTC's operator did not make, was deleted")
	}
}

func toAny(m map[string]string) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// exports returns the export ConfigMaps in the namespace.
func (w *world) exports() []corev1.ConfigMap {
	w.t.Helper()
	l, err := w.kube.CoreV1().ConfigMaps(ns).List(w.ctx, metav1.ListOptions{LabelSelector: "mtc-helm.io/export"})
	if err != nil {
		w.t.Fatal(err)
	}
	return l.Items
}
