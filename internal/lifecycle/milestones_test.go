package lifecycle_test

import (
	"context"
	"fmt"
	"sort"
	"strings"
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
	// Each hook Job and its pod: when Helm created the Job, when its pod ran, ended, and when the Job
	// controller called the Job complete (what Helm waits for).
	jobs := schema.GroupVersionResource{Group: "batch", Version: "v1", Resource: "jobs"}
	watchOne(jobs, func(u *unstructured.Unstructured) {
		mark("job " + u.GetName() + " created")
		conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
		for _, c := range conds {
			if c, _ := c.(map[string]any); (c["type"] == "Complete" || c["type"] == "Failed") && c["status"] == "True" {
				mark("job " + u.GetName() + " " + strings.ToLower(c["type"].(string)))
			}
		}
	})
	watchOne(schema.GroupVersionResource{Version: "v1", Resource: "pods"}, func(u *unstructured.Unstructured) {
		job := u.GetLabels()["job-name"]
		if job == "" {
			return
		}
		phase, _, _ := unstructured.NestedString(u.Object, "status", "phase")
		switch phase {
		case "Running", "Succeeded", "Failed":
			mark("pod of " + job + " " + strings.ToLower(phase))
		}
	})
	return m
}

// timeline is every milestone seen, in order, as offsets from start.
func (m *milestones) timeline(start time.Time) string {
	m.mu.Lock()
	defer m.mu.Unlock()
	names := make([]string, 0, len(m.first))
	for n := range m.first {
		names = append(names, n)
	}
	sort.Slice(names, func(i, j int) bool { return m.first[names[i]].Before(m.first[names[j]]) })
	var b strings.Builder
	for _, n := range names {
		fmt.Fprintf(&b, "  %6.2fs  %s\n", m.first[n].Sub(start).Seconds(), n)
	}
	return b.String()
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
