package nodesim

import (
	"context"
	"io"
	"log/slog"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

// A pod's last status change (its terminal phase) reaches the API server even when the pod ends while
// an earlier write is still under way on a slow server: stopping the writer never drops it. Without
// that a hook Job whose container exited 0 kept a Running pod until its deadline.
func TestWriterWritesTheLastChangeWhenStopped(t *testing.T) {
	t.Parallel()
	cs, r, started, release := slowServer(t)
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { r.writer(ctx); close(done) }()
	r.update(func(s *corev1.PodStatus) { s.Phase = corev1.PodRunning })
	<-started // the Running write is under way
	r.update(func(s *corev1.PodStatus) { s.Phase = corev1.PodSucceeded })
	stop()
	close(release)
	<-done
	got, err := cs.CoreV1().Pods("ns").Get(context.Background(), "hook", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got.Status.Phase != corev1.PodSucceeded {
		t.Fatalf("the pod's last written phase is %q, want Succeeded", got.Status.Phase)
	}
}

// A pod being deleted is removed only once its terminal status has been written (the Job controller
// counts a Succeeded or Failed pod, never one that vanished while Running): statusWritten returns
// when the writer has written the last change, not before.
func TestStatusWrittenWaitsForTheWrite(t *testing.T) {
	t.Parallel()
	cs, r, started, release := slowServer(t)
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	go r.writer(ctx)
	r.update(func(s *corev1.PodStatus) { s.Phase = corev1.PodSucceeded })
	waited := make(chan struct{})
	go func() { r.statusWritten(context.Background()); close(waited) }()
	<-started // the server holds the write
	select {
	case <-waited:
		t.Fatal("statusWritten returned while the write was still held by the server")
	case <-r.wrote.Wait():
		t.Fatal("the writer reported a write the server had not answered")
	default:
	}
	close(release)
	<-waited
	got, err := cs.CoreV1().Pods("ns").Get(context.Background(), "hook", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got.Status.Phase != corev1.PodSucceeded {
		t.Fatalf("statusWritten returned with the pod's phase %q, want Succeeded", got.Status.Phase)
	}
}

// slowServer is a runner for one pod on a server that holds each status write until release is
// closed (a slow server); started receives when a write reaches it.
func slowServer(t *testing.T) (cs *fake.Clientset, r *podRunner, started, release chan struct{}) {
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "hook", Namespace: "ns", UID: "u1"}}
	cs = fake.NewClientset(pod)
	started, release = make(chan struct{}, 10), make(chan struct{})
	cs.PrependReactor("update", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if a.GetSubresource() == "status" {
			started <- struct{}{}
			<-release
		}
		return false, nil, nil
	})
	n := &Node{cs: cs, log: slog.New(slog.NewTextHandler(io.Discard, nil)), opts: Options{Dir: t.TempDir()}}
	return cs, newPodRunner(n, pod, "10.0.0.2"), started, release
}
