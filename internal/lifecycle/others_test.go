package lifecycle_test

import (
	"context"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/utils/ptr"

	"github.com/mtc-helm/mtc-helm/internal/lifecycle"
	"github.com/mtc-helm/mtc-helm/internal/mtccrds"
	"github.com/mtc-helm/mtc-helm/internal/testenv"
)

// usersVelero makes what a cluster administrator has before MTC comes: a Velero installed without OLM
// (its CRDs, its Deployment in namespace velero, a BackupStorageLocation, a Schedule and a Backup), and
// cluster roles and a binding of the user's whose names hold velero and migration.openshift.io.
func usersVelero(t *testing.T, ctx context.Context, e *testenv.Env) {
	t.Helper()
	dir, err := mtccrds.Dir()
	if err != nil {
		t.Fatal(err)
	}
	if err := mtccrds.Install(ctx, e.Dynamic, dir, mtccrds.Velero); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "velero"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	labels := map[string]string{"app.kubernetes.io/name": "velero"}
	dep := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "velero", Namespace: "velero", Labels: labels},
		Spec: appsv1.DeploymentSpec{Replicas: ptr.To[int32](0), Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "velero", Image: "docker.io/velero/velero:v1.14.0"}}}}},
	}
	if _, err := e.Client.AppsV1().Deployments("velero").Create(ctx, dep, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	veleroObjects(t, ctx, e, "velero", "team-backups", "nightly", "0 1 * * *", "nightly-20261130")
	rules := []rbacv1.PolicyRule{{APIGroups: []string{"velero.io"}, Resources: []string{"backups"}, Verbs: []string{"get", "list"}}}
	for _, n := range []string{"velero-user-view", "audit.migration.openshift.io-reader"} {
		if _, err := e.Client.RbacV1().ClusterRoles().Create(ctx, &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: n}, Rules: rules}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	crb := &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "team-velero-viewers"},
		RoleRef:  rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: "velero-user-view"},
		Subjects: []rbacv1.Subject{{Kind: "Group", APIGroup: "rbac.authorization.k8s.io", Name: "backup-team"}}}
	if _, err := e.Client.RbacV1().ClusterRoleBindings().Create(ctx, crb, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// installThenUninstall takes a snapshot of the cluster, installs the 1.8 chart as a control cluster and
// uninstalls it; it returns the snapshot.
func installThenUninstall(t *testing.T, ctx context.Context, l *lifecycle.Lab, e *testenv.Env) lifecycle.Snapshot {
	t.Helper()
	before, err := lifecycle.Take(ctx, e.Cluster.Config)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Install(ctx, e, "mtc-1.8", l.Values("control.yaml"), noRemotes(t, l, e)); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Run(ctx, e, "helm", "uninstall", "mtc", "-n", ns, "--timeout", "4m"); err != nil {
		t.Fatal(err)
	}
	return before
}

// veleroObjects makes what a user's Velero holds in ns: BackupStorageLocation default on bucket, a
// Schedule and a Backup of namespace shop.
func veleroObjects(t *testing.T, ctx context.Context, e *testenv.Env, ns, bucket, schedule, cron, backup string) {
	t.Helper()
	for _, o := range []struct {
		kind, plural, name string
		spec               map[string]any
	}{
		{"BackupStorageLocation", "backupstoragelocations", "default", map[string]any{"provider": "aws", "objectStorage": map[string]any{"bucket": bucket}}},
		{"Schedule", "schedules", schedule, map[string]any{"schedule": cron, "template": map[string]any{"includedNamespaces": []any{"shop"}}}},
		{"Backup", "backups", backup, map[string]any{"includedNamespaces": []any{"shop"}, "storageLocation": "default"}},
	} {
		u := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "velero.io/v1", "kind": o.kind,
			"metadata": map[string]any{"name": o.name, "namespace": ns}, "spec": o.spec}}
		gvr := mtccrds.Kind{Group: "velero.io", Version: "v1", Plural: o.plural}.GVR()
		if _, err := e.Dynamic.Resource(gvr).Namespace(ns).Create(ctx, u, metav1.CreateOptions{}); err != nil {
			t.Fatalf("create %s %s: %v", o.kind, o.name, err)
		}
	}
}

// On a cluster that already runs a Velero of the user's (installed without OLM, with its Backups, a
// Schedule and a BackupStorageLocation) and holds the user's cluster roles with velero and
// migration.openshift.io in their names, helm install and helm uninstall leave every one of those
// objects as it was, compared object by object. MTC's own OADP goes (nothing in its namespace uses
// it); the velero.io CRDs that OADP's bundle added stay, named in the report, because a Velero still
// runs.
func TestIntegrationUninstallLeavesOtherPeoplesThings(t *testing.T) {
	t.Parallel()
	l := lab(t, "helm4")
	ctx := ctxFor(t)
	e := cluster(t, l, ocp417)
	usersVelero(t, ctx, e)
	before := installThenUninstall(t, ctx, l, e)
	leftovers := lifecycle.UninstallLeftovers(true)
	allowed := func(d lifecycle.Difference) (string, bool) {
		if why, ok := leftovers(d); ok {
			return why, true
		}
		// The velero.io CRDs OADP's bundle brings beyond the user's Velero's: kept, as every velero.io
		// CRD is while another Velero runs.
		if d.Change == "added" && strings.HasPrefix(d.Key, "apiextensions.k8s.io/customresourcedefinitions /") && strings.HasSuffix(d.Key, ".velero.io") {
			return "a velero.io CRD kept while the user's Velero runs", true
		}
		return "", false
	}
	if err := l.SettleAndCompare(ctx, e, before, allowed, 90*time.Second); err != nil {
		t.Fatal(err)
	}
}

// On a cluster where the user installed OADP through OLM in a namespace of their own, with a
// BackupStorageLocation, a Schedule and a Backup of theirs, helm install brings MTC's own OADP into openshift-migration beside it (the same CRDs), and
// helm uninstall removes MTC's and leaves the user's OADP, its Subscription, CSV and Velero objects, and every
// velero.io and oadp.openshift.io CRD as they were, compared object by object.
func TestIntegrationUninstallLeavesAUsersOADP(t *testing.T) {
	t.Parallel()
	l := lab(t, "helm")
	ctx := ctxFor(t)
	e := cluster(t, l, ocp417)
	const adp = "openshift-adp"
	if err := lifecycle.SubscribeByHand(ctx, e, adp, adp, "redhat-oadp-operator", "redhat-oadp-operator", "stable-1.4", 1); err != nil {
		t.Fatal(err)
	}
	veleroObjects(t, ctx, e, adp, "adp-backups", "weekly", "0 2 * * 0", "weekly-20261129")
	before := installThenUninstall(t, ctx, l, e)
	if err := l.SettleAndCompare(ctx, e, before, lifecycle.UninstallLeftovers(true), 90*time.Second); err != nil {
		t.Fatal(err)
	}
}
