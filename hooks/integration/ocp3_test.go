package integration

import (
	"context"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/mtc-helm/mtc-helm/hooks/kube"
	"github.com/mtc-helm/mtc-helm/internal/mtccrds"
)

// TestIntegrationLegacyOnOCP3 runs configure and then cleanup against the Kubernetes 1.11 API server of
// the ocp3 flavour, with the legacy operator played by its double as the pod of its Deployment: no
// server-side apply (configure falls back to create and merge patch), the legacy operator's Velero
// waited for as that version's deployment and DaemonSet controllers report it, and apiextensions
// v1beta1 only (cleanup lists and deletes CRDs through it).
func TestIntegrationLegacyOnOCP3(t *testing.T) {
	cluster := doublesEnv(t, "ocp3")
	kc, dyn := cluster.Client, cluster.Dynamic
	w := newWorld(t, kc, dyn)
	w.namespace(ns)
	w.crds(mtccrds.MTC)
	ctx := context.Background()
	if _, err := kc.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "mtc-configure", Namespace: ns},
		Data: map[string]string{"operator.yaml": "{mode: legacy, deployment: migration-operator}",
			"objects.yaml": "apiVersion: migration.openshift.io/v1alpha1\nkind: MigrationController\nmetadata:\n  name: migration-controller\nspec:\n  migration_velero: true\n  migration_controller: false\n  migration_ui: false\n  cluster_name: ocp3\n"},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// The operator's ServiceAccount, bound to cluster-admin: this test is about the hooks on 1.11; the
	// legacy chart's own ClusterRole is judged by the lifecycle stories.
	if _, err := kc.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "migration-operator"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := kc.RbacV1().ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "mtc-test-legacy-operator"},
		RoleRef:  rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: "cluster-admin"},
		Subjects: []rbacv1.Subject{{Kind: "ServiceAccount", Name: "migration-operator", Namespace: ns}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	replicas := int32(1)
	dep := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "migration-operator", Namespace: ns},
		Spec: appsv1.DeploymentSpec{Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "migration"}},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "migration"}},
				Spec: corev1.PodSpec{ServiceAccountName: "migration-operator",
					Containers: []corev1.Container{{Name: "operator", Image: "registry.redhat.io/rhmtc/openshift-migration-legacy-rhel8-operator:v1.7"}}}}},
	}
	if _, err := kc.AppsV1().Deployments(ns).Create(ctx, dep, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	r := hooks(t, cluster.Kubeconfig, "configure", "--interval", "300ms", "--timeout", "2m")
	wantExit(t, r, 0, "operator: legacy, Deployment migration-operator available", "MigrationController openshift-migration/migration-controller: reconciled by operator 1.7.14")

	// Apply again (an upgrade): the merge patch path.
	r = hooks(t, cluster.Kubeconfig, "configure", "--interval", "300ms", "--timeout", "1m")
	wantExit(t, r, 0, "result:   ok")

	vc := hooks(t, cluster.Kubeconfig, "version-check", "--mtc-version", "1.7.14", "--role", "control")
	wantExit(t, vc, 1, "can only be a migration source; install it with role remote")
	vc = hooks(t, cluster.Kubeconfig, "version-check", "--mtc-version", "1.7.14", "--role", "control", "--allow-unsupported")
	wantExit(t, vc, 0, "installed: MTC 1.7.14", "can only be a migration source")
	vc = hooks(t, cluster.Kubeconfig, "version-check", "--mtc-version", "1.7.14", "--role", "remote")
	wantExit(t, vc, 0, "installed: MTC 1.7.14")

	c := hooks(t, cluster.Kubeconfig, "cleanup", "--step-timeout", "30s")
	wantExit(t, c, 0, "deleted MigrationController openshift-migration/migration-controller", "deleted CustomResourceDefinition migplans.migration.openshift.io",
		"deleted Deployment openshift-migration/migration-operator", "result: ok")
	if n := w.count(kube.MigrationControllers, ns); n != 0 {
		t.Fatalf("%d MigrationControllers left", n)
	}
}
