package integration

import (
	"context"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	watchtools "k8s.io/client-go/tools/watch"
	"k8s.io/client-go/util/retry"

	"github.com/mtc-helm/mtc-helm/hooks/kube"
	"github.com/mtc-helm/mtc-helm/internal/mtccrds"
)

// TestIntegrationLegacyOnOCP3 runs configure and then cleanup against the Kubernetes 1.11 API server of
// the ocp3 flavour: no server-side apply (configure falls back to create and merge patch), the legacy
// operator's Velero waited for as that version's deployment and DaemonSet controllers report it, and
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
	if _, err := kc.AppsV1().Deployments(ns).Create(ctx, dep, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// Play the node and the legacy operator: pods of the namespace run and get ready, and the operator
	// writes its version into the MigrationController (it manages no status), then creates Velero.
	playCtx, stop := context.WithCancel(ctx)
	t.Cleanup(stop)
	playNode(playCtx, t, kc, ns)
	playLegacyOperator(playCtx, t, kc, dyn, ns)
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

// playNode registers a Ready node and, until ctx ends, plays the scheduler and the kubelet for the pods
// of namespace: a pod without a node is bound to it, a bound pod is reported running and ready, a pod
// being deleted is removed. The deployment and DaemonSet controllers of the control plane then count
// them as they count a real node's.
func playNode(ctx context.Context, t *testing.T, kc kubernetes.Interface, namespace string) {
	t.Helper()
	node, err := kc.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "ocp3-node",
		Labels: map[string]string{"kubernetes.io/hostname": "ocp3-node"}}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// The controller manager writes to a new Node too: report Ready on the latest version, as a kubelet does.
	res := corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("8"), corev1.ResourceMemory: resource.MustParse("32Gi"), corev1.ResourcePods: resource.MustParse("110")}
	err = retry.RetryOnConflict(retry.DefaultBackoff, func() error {
		cur, err := kc.CoreV1().Nodes().Get(ctx, node.Name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		cur.Status = corev1.NodeStatus{Capacity: res, Allocatable: res, Phase: corev1.NodeRunning,
			Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady", LastHeartbeatTime: metav1.Now(), LastTransitionTime: metav1.Now()}}}
		_, err = kc.CoreV1().Nodes().UpdateStatus(ctx, cur, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	pods := kc.CoreV1().Pods(namespace)
	follow(ctx, t, &cache.ListWatch{
		ListWithContextFunc:  func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) { return pods.List(ctx, o) },
		WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) { return pods.Watch(ctx, o) },
	}, func(o runtime.Object) {
		pod, ok := o.(*corev1.Pod)
		if !ok {
			return
		}
		switch {
		case pod.DeletionTimestamp != nil:
			// the kubelet's last word on a pod being deleted
			zero := int64(0)
			persist(ctx, t, "delete pod "+pod.Name, func(ctx context.Context) error {
				err := pods.Delete(ctx, pod.Name, metav1.DeleteOptions{GracePeriodSeconds: &zero, Preconditions: &metav1.Preconditions{UID: &pod.UID}})
				if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
					return nil // gone, or another pod of that name now
				}
				return err
			})
		case pod.Spec.NodeName == "":
			persist(ctx, t, "bind pod "+pod.Name, func(ctx context.Context) error {
				err := pods.Bind(ctx, &corev1.Binding{ObjectMeta: metav1.ObjectMeta{Name: pod.Name, Namespace: pod.Namespace, UID: pod.UID},
					Target: corev1.ObjectReference{Kind: "Node", Name: node.Name}}, metav1.CreateOptions{})
				if apierrors.IsConflict(err) || apierrors.IsNotFound(err) {
					return nil // bound already, or gone
				}
				return err
			})
		case pod.Status.Phase != corev1.PodRunning:
			now := metav1.Now()
			pod.Status.Phase = corev1.PodRunning
			pod.Status.StartTime = &now
			for _, c := range []corev1.PodConditionType{corev1.PodScheduled, corev1.PodInitialized, corev1.ContainersReady, corev1.PodReady} {
				pod.Status.Conditions = append(pod.Status.Conditions, corev1.PodCondition{Type: c, Status: corev1.ConditionTrue, LastTransitionTime: now})
			}
			persist(ctx, t, "report pod "+pod.Name+" running", func(ctx context.Context) error {
				_, err := pods.UpdateStatus(ctx, pod, metav1.UpdateOptions{})
				if apierrors.IsConflict(err) || apierrors.IsNotFound(err) {
					return nil // a newer version of the pod comes as its own event, or it is gone
				}
				return err
			})
		}
	})
}

// follow hands each object lw lists to handle, then each object a later event adds or changes, until
// ctx ends. A watch the API server closes is resumed from the last version seen: Kubernetes 1.11 closes
// the watches of a custom resource when its CRD changes.
func follow(ctx context.Context, t *testing.T, lw *cache.ListWatch, handle func(runtime.Object)) {
	t.Helper()
	list, err := lw.ListWithContext(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	items, err := apimeta.ExtractList(list)
	if err != nil {
		t.Fatal(err)
	}
	rv, err := apimeta.NewAccessor().ResourceVersion(list)
	if err != nil {
		t.Fatal(err)
	}
	w, err := watchtools.NewRetryWatcherWithContext(ctx, rv, lw)
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		defer w.Stop()
		for _, o := range items {
			handle(o)
		}
		for ev := range w.ResultChan() {
			if ev.Type == watch.Added || ev.Type == watch.Modified {
				handle(ev.Object)
			}
		}
	}()
}

// playLegacyOperator plays the legacy operator's role until ctx ends: on each MigrationController
// without a version it writes the version first, then creates Deployment velero and DaemonSet restic
// owned by it, in that order, as the role's tasks do.
func playLegacyOperator(ctx context.Context, t *testing.T, kc kubernetes.Interface, dyn dynamic.Interface, namespace string) {
	t.Helper()
	mcs := dyn.Resource(kube.MigrationControllers).Namespace(namespace)
	follow(ctx, t, &cache.ListWatch{
		ListWithContextFunc:  func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) { return mcs.List(ctx, o) },
		WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) { return mcs.Watch(ctx, o) },
	}, func(o runtime.Object) {
		mc, ok := o.(*unstructured.Unstructured)
		if !ok || mc.GetDeletionTimestamp() != nil {
			return
		}
		if v, _, _ := unstructured.NestedString(mc.Object, "spec", "version"); v != "" {
			return
		}
		// A write refused for a moment (the CR's resource just served, a loaded API server) is tried
		// again: no further event would come to retry it.
		persist(ctx, t, "write spec.version", func(ctx context.Context) error {
			_, err := mcs.Patch(ctx, mc.GetName(), types.MergePatchType, []byte(`{"spec":{"version":"1.7.14"}}`), metav1.PatchOptions{})
			return err
		})
		owner := []metav1.OwnerReference{{APIVersion: "migration.openshift.io/v1alpha1", Kind: "MigrationController", Name: mc.GetName(), UID: mc.GetUID()}}
		labels := map[string]string{"component": "velero"}
		pod := corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "velero", Image: "registry.redhat.io/rhmtc/openshift-migration-velero-rhel8:v1.7"}}}}
		one := int32(1)
		restic := *pod.DeepCopy()
		restic.Labels = map[string]string{"name": "restic"}
		persist(ctx, t, "create Deployment velero", func(ctx context.Context) error {
			_, err := kc.AppsV1().Deployments(namespace).Create(ctx, &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "velero", Namespace: namespace, OwnerReferences: owner},
				Spec: appsv1.DeploymentSpec{Replicas: &one, Selector: &metav1.LabelSelector{MatchLabels: labels}, Template: pod}}, metav1.CreateOptions{})
			return err
		})
		persist(ctx, t, "create DaemonSet restic", func(ctx context.Context) error {
			_, err := kc.AppsV1().DaemonSets(namespace).Create(ctx, &appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Name: "restic", Namespace: namespace, OwnerReferences: owner},
				Spec: appsv1.DaemonSetSpec{Selector: &metav1.LabelSelector{MatchLabels: restic.Labels}, Template: restic}}, metav1.CreateOptions{})
			return err
		})
	})
}

// persist does what a controller does with a write the API server refuses for a moment: it tries
// again (an object that already exists counts as written), and reports the write that never went
// through while the test still runs.
func persist(ctx context.Context, t *testing.T, what string, write func(ctx context.Context) error) {
	var last error
	err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		last = write(ctx)
		return last == nil || apierrors.IsAlreadyExists(last), nil
	})
	if err != nil && ctx.Err() == nil {
		t.Errorf("the played cluster could not %s: %v", what, last)
	}
}
