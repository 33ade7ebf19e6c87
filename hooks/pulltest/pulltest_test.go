package pulltest

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/mtc-helm/mtc-helm/hooks/kube"
)

func waiting(reason, msg string) corev1.ContainerStatus {
	return corev1.ContainerStatus{Name: "pull-0", Image: "registry.example.com/ubi9:latest",
		State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: reason, Message: msg}}}
}

// fakeKubelet makes every get of the test pod return the given status.
func fakeKubelet(cs *fake.Clientset, status corev1.PodStatus) {
	cs.PrependReactor("create", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		pod := a.(k8stesting.CreateAction).GetObject().(*corev1.Pod)
		if pod.Name == "" {
			pod.Name = pod.GenerateName + "abcde"
		}
		return false, nil, nil
	})
	cs.PrependReactor("get", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		name := a.(k8stesting.GetAction).GetName()
		pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: a.GetNamespace()},
			Spec:   corev1.PodSpec{Containers: []corev1.Container{{Name: "pull-0"}}},
			Status: status}
		return true, pod, nil
	})
}

func TestPullTest(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		status      corev1.PodStatus
		wantResult  string
		wantErr     string
		wantTimeout bool
	}{
		{name: "running", status: corev1.PodStatus{Phase: corev1.PodRunning}, wantResult: "ok"},
		{name: "pulled but runAsNonRoot stops it", wantResult: "ok",
			status: corev1.PodStatus{Phase: corev1.PodPending, ContainerStatuses: []corev1.ContainerStatus{
				waiting("CreateContainerConfigError", "container has runAsNonRoot and image will run as root")}}},
		{name: "bad credentials", wantErr: "into the pull secret",
			status: corev1.PodStatus{Phase: corev1.PodPending, ContainerStatuses: []corev1.ContainerStatus{
				waiting("ErrImagePull", "failed to pull: unauthorized: authentication required")}}},
		{name: "back-off on missing tag", wantErr: "check the image name and tag",
			status: corev1.PodStatus{Phase: corev1.PodPending, ContainerStatuses: []corev1.ContainerStatus{
				waiting("ImagePullBackOff", "Back-off pulling image: manifest unknown")}}},
		{name: "registry says MANIFEST_UNKNOWN", wantErr: "check the image name and tag",
			status: corev1.PodStatus{Phase: corev1.PodPending, ContainerStatuses: []corev1.ContainerStatus{
				waiting("ErrImagePull", "GET https://r/v2/ubi9/manifests/x: MANIFEST_UNKNOWN: Unknown manifest")}}},
		{name: "invalid name", wantErr: "fix the image reference",
			status: corev1.PodStatus{Phase: corev1.PodPending, ContainerStatuses: []corev1.ContainerStatus{
				waiting("InvalidImageName", "couldn't parse image reference")}}},
		{name: "unreachable registry", wantErr: "make registry.example.com reachable",
			status: corev1.PodStatus{Phase: corev1.PodPending, ContainerStatuses: []corev1.ContainerStatus{
				waiting("ErrImagePull", "dial tcp: lookup registry.example.com: no such host")}}},
		{name: "never scheduled times out", wantTimeout: true,
			status: corev1.PodStatus{Phase: corev1.PodPending, Conditions: []corev1.PodCondition{
				{Type: corev1.PodScheduled, Status: corev1.ConditionFalse, Message: "0/1 nodes are available"}}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cs := fake.NewClientset()
			fakeKubelet(cs, tc.status)
			pt := &PullTest{Action: kube.Action{Kube: cs, Namespace: kube.Namespace, Waiter: kube.Waiter{Interval: 10 * time.Millisecond, Timeout: 200 * time.Millisecond}}, Images: []string{"registry.example.com/ubi9:latest"},
				PullSecrets: []string{"mirror-pull"}}
			rep, err := pt.Run(context.Background())
			switch {
			case tc.wantTimeout:
				var te *kube.TimeoutError
				if !errors.As(err, &te) || !errors.Is(err, context.DeadlineExceeded) {
					t.Fatalf("want a timeout, got %v", err)
				}
				if !strings.Contains(err.Error(), "0/1 nodes are available") {
					t.Errorf("timeout does not quote the last status: %v", err)
				}
			case tc.wantErr != "":
				if err == nil || !kube.IsRefusal(err) || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("want refusal with %q, got %v", tc.wantErr, err)
				}
			default:
				if err != nil {
					t.Fatal(err)
				}
				if rep.Result != tc.wantResult {
					t.Fatalf("result %q", rep.Result)
				}
			}
			assertCreatedAndDeleted(t, cs)
		})
	}
}

func assertCreatedAndDeleted(t *testing.T, cs *fake.Clientset) {
	t.Helper()
	var created *corev1.Pod
	deleted := false
	for _, a := range cs.Actions() {
		switch {
		case a.GetVerb() == "create" && a.GetResource().Resource == "pods":
			created = a.(k8stesting.CreateAction).GetObject().(*corev1.Pod)
		case a.GetVerb() == "delete" && a.GetResource().Resource == "pods":
			deleted = true
		}
	}
	if created == nil {
		t.Fatal("no pod created")
	}
	if !deleted {
		t.Error("the test pod was not deleted")
	}
	sc := created.Spec.SecurityContext
	if sc == nil || sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot || sc.RunAsUser != nil {
		t.Errorf("pod security context %+v: want runAsNonRoot and no fixed UID", sc)
	}
	c := created.Spec.Containers[0]
	if c.SecurityContext == nil || *c.SecurityContext.AllowPrivilegeEscalation || c.SecurityContext.Capabilities.Drop[0] != "ALL" {
		t.Errorf("container security context %+v", c.SecurityContext)
	}
	if len(created.Spec.ImagePullSecrets) != 1 || created.Spec.ImagePullSecrets[0].Name != "mirror-pull" {
		t.Errorf("pull secrets %v", created.Spec.ImagePullSecrets)
	}
}

func TestPullTestDeletesPodOnCancel(t *testing.T) {
	t.Parallel()
	cs := fake.NewClientset()
	fakeKubelet(cs, corev1.PodStatus{Phase: corev1.PodPending})
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	pt := &PullTest{Action: kube.Action{Kube: cs, Waiter: kube.Waiter{Interval: 10 * time.Millisecond}}, Images: []string{"quay.io/x/y:1"}, PullSecrets: []string{"mirror-pull"}}
	_, err := pt.Run(ctx)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("want context.Canceled, got %v", err)
	}
	assertCreatedAndDeleted(t, cs)
}

func TestPullTestRemovesLeftovers(t *testing.T) {
	t.Parallel()
	old := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "mtc-pull-test-old", Namespace: kube.Namespace,
		Labels: map[string]string{NameLabel: Name, ComponentLabel: Component}}}
	cs := fake.NewClientset(old)
	fakeKubelet(cs, corev1.PodStatus{Phase: corev1.PodRunning})
	pt := &PullTest{Action: kube.Action{Kube: cs, Namespace: kube.Namespace, Waiter: kube.Waiter{Interval: 10 * time.Millisecond}}, Images: []string{"quay.io/x/y:1"}}
	if _, err := pt.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	pods, _ := cs.CoreV1().Pods(kube.Namespace).List(context.Background(), metav1.ListOptions{})
	if len(pods.Items) != 0 {
		t.Fatalf("pods left: %v", pods.Items)
	}
}
