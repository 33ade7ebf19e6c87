package preflight

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/version"
	fakediscovery "k8s.io/client-go/discovery/fake"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/mtc-helm/mtc-helm/hooks/kube"
	"github.com/mtc-helm/mtc-helm/hooks/kube/kubefake"
	"github.com/mtc-helm/mtc-helm/internal/golden"
)

// fakeCluster returns clients for an OCP 4 cluster of the given version, or plain Kubernetes for "".
func fakeCluster(ocpVersion string) *kube.Clients {
	cs := fake.NewClientset()
	cs.PrependReactor("create", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		pod := a.(k8stesting.CreateAction).GetObject().(*corev1.Pod)
		pod.Name = pod.GenerateName + "x"
		pod.Status.Phase = corev1.PodRunning
		return false, nil, nil
	})
	disc := cs.Discovery().(*fakediscovery.FakeDiscovery)
	disc.FakedServerVersion = &version.Info{Major: "1", Minor: "30", GitVersion: "v1.30.0"}
	var objs []runtime.Object
	if ocpVersion != "" {
		disc.Resources = []*metav1.APIResourceList{{GroupVersion: "config.openshift.io/v1"}}
		objs = append(objs, &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "config.openshift.io/v1", "kind": "ClusterVersion", "metadata": map[string]any{"name": "version"},
			"status": map[string]any{"desired": map[string]any{"version": ocpVersion}},
		}})
	}
	dyn := kubefake.Dynamic(objs...)
	return &kube.Clients{Kube: cs, Dynamic: dyn, Discovery: disc, Host: "https://" + ocpVersion + ".example:6443"}
}

func TestPreflight(t *testing.T) {
	t.Parallel()
	clusters := map[string]*kube.Clients{"control": fakeCluster("4.17.2"), "old": fakeCluster("4.12.0"), "plain": fakeCluster("")}
	p := &Preflight{
		Contexts: []string{"control", "old", "plain"},
		Clients: func(c string) (*kube.Clients, error) {
			if cl, ok := clusters[c]; ok {
				return cl, nil
			}
			return nil, fmt.Errorf("context %q not found", c)
		},
		Namespace: kube.Namespace, MTCVersion: "1.8.8", Images: []string{"registry.redhat.io/ubi9:latest"},
		Waiter: kube.Waiter{Interval: 10 * time.Millisecond, Timeout: time.Second},
	}
	rep, err := p.Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "preflight failed on old, plain") {
		t.Fatalf("want a failure naming old and plain, got %v", err)
	}
	if !rep.Clusters[0].OK || rep.Clusters[1].OK || rep.Clusters[2].OK {
		t.Fatalf("ok flags: %v %v %v", rep.Clusters[0].OK, rep.Clusters[1].OK, rep.Clusters[2].OK)
	}
	var b strings.Builder
	if err := rep.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	golden.Check(t, "three-clusters.txt", golden.Stable(b.String()))
	// The pull test left no pod behind.
	pods, _ := clusters["control"].Kube.CoreV1().Pods(kube.Namespace).List(context.Background(), metav1.ListOptions{})
	if len(pods.Items) != 0 {
		t.Errorf("pods left: %d", len(pods.Items))
	}
}
