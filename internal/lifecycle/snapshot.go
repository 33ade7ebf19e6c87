package lifecycle

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"sync"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
)

// Snapshot is every object of every listable resource the apiserver serves, by key
// "<group>/<resource> <namespace>/<name>", with a digest of what a user set on it.
type Snapshot map[string]string

// clusterOwned are resources whose objects the cluster itself creates and changes as it runs:
// a before/after comparison ignores them.
var clusterOwned = map[string]string{
	"/events":                         "events",
	"events.k8s.io/events":            "events",
	"coordination.k8s.io/leases":      "leases",
	"/endpoints":                      "endpoints",
	"discovery.k8s.io/endpointslices": "endpoint slices",
	"/nodes":                          "the simulated node",
	"/componentstatuses":              "component status",
	"flowcontrol.apiserver.k8s.io/flowschemas":                 "API priority and fairness",
	"flowcontrol.apiserver.k8s.io/prioritylevelconfigurations": "API priority and fairness",
	"apiregistration.k8s.io/apiservices":                       "aggregated API registrations follow the CRDs",
}

// Take lists every object through discovery.
func Take(ctx context.Context, cfg *rest.Config) (Snapshot, error) {
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return nil, err
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	lists, err := dc.ServerPreferredResources()
	if err != nil && len(lists) == 0 {
		return nil, fmt.Errorf("discovery failed: %w", err)
	}
	type job struct {
		id  string
		gvr schema.GroupVersionResource
	}
	var jobs []job
	for _, l := range lists {
		gv, err := schema.ParseGroupVersion(l.GroupVersion)
		if err != nil {
			continue
		}
		for _, r := range l.APIResources {
			if strings.Contains(r.Name, "/") || !contains(r.Verbs, "list") {
				continue
			}
			id := gv.Group + "/" + r.Name
			if _, skip := clusterOwned[id]; !skip {
				jobs = append(jobs, job{id, gv.WithResource(r.Name)})
			}
		}
	}
	// Lists run a few at a time: the first list of an idle resource costs the apiserver a moment.
	snap := Snapshot{}
	var mu sync.Mutex
	var firstErr error
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for _, j := range jobs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			items, err := dyn.Resource(j.gvr).List(ctx, metav1.ListOptions{})
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				if firstErr == nil {
					firstErr = fmt.Errorf("failed to list %s: %w", j.id, err)
				}
				return
			}
			for i := range items.Items {
				o := &items.Items[i]
				if !ignoreObject(j.id, o) {
					snap[j.id+" "+o.GetNamespace()+"/"+o.GetName()] = digest(o)
				}
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	return snap, nil
}

// ignoreObject drops objects the cluster makes by itself for every namespace or account.
func ignoreObject(id string, o *unstructured.Unstructured) bool {
	switch {
	case id == "/configmaps" && o.GetName() == "kube-root-ca.crt":
		return true
	case id == "/serviceaccounts" && o.GetName() == "default":
		return true
	case id == "/secrets" && o.Object["type"] == "kubernetes.io/service-account-token" && o.GetAnnotations()["kubernetes.io/service-account.name"] == "default":
		return true
	}
	return false
}

// digest hashes what a user or a chart sets: labels, annotations, spec and data, not status
// and server bookkeeping.
func digest(o *unstructured.Unstructured) string {
	c := map[string]any{}
	for k, v := range o.Object {
		switch k {
		case "metadata", "status":
		default:
			c[k] = v
		}
	}
	ann := map[string]string{}
	for k, v := range o.GetAnnotations() {
		if !strings.HasPrefix(k, "deployment.kubernetes.io/") && k != "kubectl.kubernetes.io/last-applied-configuration" {
			ann[k] = v
		}
	}
	// OLM's Operator objects adopt their components by labelling them operators.coreos.com/<package>.<namespace>,
	// at a time of OLM's choosing: bookkeeping of OLM's, not something a user or the chart sets.
	labels := map[string]string{}
	for k, v := range o.GetLabels() {
		if !strings.HasPrefix(k, "operators.coreos.com/") {
			labels[k] = v
		}
	}
	c["labels"], c["annotations"] = labels, ann
	b, _ := json.Marshal(c)
	sum := sha256.Sum256(b)
	return fmt.Sprintf("%x", sum[:8])
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// Difference is one object that differs between two snapshots.
type Difference struct {
	Key    string
	Change string // added, removed or changed
}

// Diff lists the objects that were added, removed or changed from before to after, sorted.
func Diff(before, after Snapshot) []Difference {
	var out []Difference
	for k, v := range after {
		if b, ok := before[k]; !ok {
			out = append(out, Difference{k, "added"})
		} else if b != v {
			out = append(out, Difference{k, "changed"})
		}
	}
	for k := range before {
		if _, ok := after[k]; !ok {
			out = append(out, Difference{k, "removed"})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}
