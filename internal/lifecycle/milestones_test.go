package lifecycle_test

import (
	"context"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/dynamic"

	"github.com/mtc-helm/mtc-helm/hooks/kube"
	"github.com/mtc-helm/mtc-helm/internal/lifecycle"
)

// milestones records, from watches, when an install reaches each of its steps: Helm creating the
// Subscription (the pre-install checks are over), the CSVs succeeding, the operator reconciling the
// MigrationController. A benchmark reads them to say where the time goes.
type milestones struct {
	mu     sync.Mutex
	first  map[string]time.Time
	cancel context.CancelFunc
	done   sync.WaitGroup
}

const (
	msSubscription = "subscription created"
	msCSVs         = "csvs succeeded"
	msReconciled   = "migrationcontroller reconciled"
)

// watchMilestones starts the watches; stop ends them.
func watchMilestones(b *testing.B, dyn dynamic.Interface) *milestones {
	b.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	m := &milestones{first: map[string]time.Time{}, cancel: cancel}
	csvs := map[string]bool{} // CSV name: Succeeded
	// watchOne follows one kind in the namespace, from before its CRD exists (OLM creates it during
	// the install) until stop.
	watchOne := func(gvr schema.GroupVersionResource, seen func(u *unstructured.Unstructured)) {
		m.done.Add(1)
		go func() {
			defer m.done.Done()
			for ctx.Err() == nil {
				w, err := dyn.Resource(gvr).Namespace(lifecycle.Namespace).Watch(ctx, metav1.ListOptions{})
				if err != nil {
					// not served yet: ask again in a moment
					select {
					case <-ctx.Done():
					case <-time.After(50 * time.Millisecond):
					}
					continue
				}
				for ev := range w.ResultChan() {
					if u, ok := ev.Object.(*unstructured.Unstructured); ok && ev.Type != watch.Deleted {
						m.mu.Lock()
						seen(u)
						m.mu.Unlock()
					}
				}
				w.Stop()
			}
		}()
	}
	mark := func(name string) {
		if _, ok := m.first[name]; !ok {
			m.first[name] = time.Now()
		}
	}
	watchOne(kube.Subscriptions, func(u *unstructured.Unstructured) {
		if n, _, _ := unstructured.NestedString(u.Object, "spec", "name"); n == kube.OperatorPackage {
			mark(msSubscription)
		}
	})
	watchOne(kube.CSVs, func(u *unstructured.Unstructured) {
		phase, _, _ := unstructured.NestedString(u.Object, "status", "phase")
		csvs[u.GetName()] = phase == "Succeeded"
		all := len(csvs) >= 2 // MTC's and OADP's
		for _, ok := range csvs {
			all = all && ok
		}
		if all {
			mark(msCSVs)
		}
	})
	watchOne(schema.GroupVersionResource{Group: kube.MigrationGroup, Version: "v1alpha1", Resource: "migrationcontrollers"}, func(u *unstructured.Unstructured) {
		conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
		for _, c := range conds {
			if c, _ := c.(map[string]any); c["type"] == "Successful" && c["status"] == "True" {
				mark(msReconciled)
			}
		}
	})
	return m
}

func (m *milestones) stop() {
	m.cancel()
	m.done.Wait()
}

// since is how long after start the milestone came, or zero when it was not seen.
func (m *milestones) since(start time.Time, name string) time.Duration {
	m.mu.Lock()
	defer m.mu.Unlock()
	t, ok := m.first[name]
	if !ok {
		return 0
	}
	return t.Sub(start)
}
