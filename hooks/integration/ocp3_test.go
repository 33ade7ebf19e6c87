package integration

import (
	"context"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	"github.com/mtc-helm/mtc-helm/hooks/kube"
	"github.com/mtc-helm/mtc-helm/internal/mtccrds"
)

// TestIntegrationLegacyOnOCP3 runs configure and then cleanup against the Kubernetes 1.11 API server of
// the ocp3 flavour: no server-side apply (configure falls back to create and merge patch) and
// apiextensions v1beta1 only (cleanup lists and deletes CRDs through it).
func TestIntegrationLegacyOnOCP3(t *testing.T) {
	cluster := controlPlane(t, "ocp3")
	kc := kubernetes.NewForConfigOrDie(cluster.Config)
	dyn := dynamic.NewForConfigOrDie(cluster.Config)
	w := newWorld(t, kc, dyn)
	w.namespace(ns)
	w.crds(mtccrds.MTC, mtccrds.Velero)
	ctx := context.Background()
	if _, err := kc.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "mtc-configure", Namespace: ns},
		Data: map[string]string{"operator.yaml": "{mode: legacy, deployment: migration-operator}",
			"objects.yaml": "apiVersion: migration.openshift.io/v1alpha1\nkind: MigrationController\nmetadata:\n  name: migration-controller\nspec:\n  migration_velero: true\n  migration_controller: false\n  migration_ui: false\n  cluster_name: ocp3\n"},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	replicas := int32(1)
	dep := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "migration-operator", Namespace: ns},
		Spec: appsv1.DeploymentSpec{Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "migration"}},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "migration"}},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "operator", Image: "registry.redhat.io/rhmtc/openshift-migration-legacy-rhel8-operator:v1.7"}}}}},
	}
	created, err := kc.AppsV1().Deployments(ns).Create(ctx, dep, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// Play the kubelet and the legacy operator: the Deployment becomes available, and the operator writes
	// its version into the MigrationController (it manages no status).
	playCtx, stop := context.WithCancel(ctx)
	t.Cleanup(stop)
	go func() {
		for playCtx.Err() == nil {
			time.Sleep(300 * time.Millisecond)
			cur, err := kc.AppsV1().Deployments(ns).Get(playCtx, created.Name, metav1.GetOptions{})
			// The deployment controller keeps writing what it sees (no pods: not available); keep writing back.
			if err == nil && !available(cur) {
				cur.Status = appsv1.DeploymentStatus{ObservedGeneration: cur.Generation, Replicas: 1, AvailableReplicas: 1, ReadyReplicas: 1,
					Conditions: []appsv1.DeploymentCondition{{Type: appsv1.DeploymentAvailable, Status: corev1.ConditionTrue, Reason: "MinimumReplicasAvailable"}}}
				_, _ = kc.AppsV1().Deployments(ns).UpdateStatus(ctx, cur, metav1.UpdateOptions{})
			}
			mc, err := dyn.Resource(kube.MigrationControllers).Namespace(ns).Get(ctx, "migration-controller", metav1.GetOptions{})
			if err != nil {
				continue
			}
			if v, _, _ := unstructured.NestedString(mc.Object, "spec", "version"); v == "" {
				_ = unstructured.SetNestedField(mc.Object, "1.7.14", "spec", "version")
				_, _ = dyn.Resource(kube.MigrationControllers).Namespace(ns).Update(ctx, mc, metav1.UpdateOptions{})
			}
		}
	}()
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

func available(d *appsv1.Deployment) bool {
	for _, c := range d.Status.Conditions {
		if c.Type == appsv1.DeploymentAvailable && c.Status == corev1.ConditionTrue {
			return true
		}
	}
	return false
}
