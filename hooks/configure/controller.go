package configure

import (
	"context"
	"fmt"
	"strings"
	"sync"

	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/tools/cache"
	watchtools "k8s.io/client-go/tools/watch"

	"github.com/mtc-helm/mtc-helm/hooks/kube"
)

// waitController waits for the operator to reconcile the MigrationController as applied.
//
// The OLM operator is ansible-operator, which reports each run in the conditions: when a run starts,
// Running True with reason Running and Successful False; when it ends, Successful True (Running's
// reason Successful), or Failure True with the role's error (Running False). A Failure of an earlier
// run stays until the next run ends, and right after an apply the conditions are the previous run's.
// So when the apply changed the spec (a new generation), only a run that started after the apply
// counts: a watch from the applied object's resourceVersion sees the run start and end. When the apply
// changed nothing, the operator runs no new reconcile for it, and the last run's outcome (or the end
// of the run under way) is the answer.
//
// The legacy operator manages no status: there the version it writes into the spec counts, and what
// the API server refused it is read from its log.
func (c *Configure) waitController(ctx context.Context, gvr schema.GroupVersionResource, applied, prev *unstructured.Unstructured, mode, deployment string) (string, error) {
	ns, name := applied.GetNamespace(), applied.GetName()
	what := fmt.Sprintf("the operator to reconcile MigrationController %s/%s", ns, name)
	remedy := "look at the operator log (oc logs deployment/migration-operator -n " + ns + ")"
	if mode == ModeLegacy {
		return c.waitLegacyController(ctx, gvr, applied, deployment, what, remedy)
	}
	newSpec := prev == nil || prev.GetGeneration() != applied.GetGeneration()
	var runs *runWatch
	if newSpec {
		wctx, cancel := context.WithCancel(ctx)
		defer cancel()
		var err error
		if runs, err = c.watchRuns(wctx, gvr, applied); err != nil {
			return "", kube.Explain(err, "watch MigrationController "+ns+"/"+name, c.Host)
		}
	}
	var status string
	var woken <-chan struct{}
	if runs != nil {
		woken = runs.changed
	}
	err := c.Waiter.UntilWoken(ctx, what, remedy, woken, func(ctx context.Context) (bool, string, error) {
		var cur *unstructured.Unstructured
		if runs != nil {
			ended, note, err := runs.ended()
			if err != nil || ended == nil {
				return false, note, err
			}
			cur = ended
		} else {
			var err error
			if cur, err = c.Dynamic.Resource(gvr).Namespace(ns).Get(ctx, name, metav1.GetOptions{}); err != nil {
				return false, "", kube.Explain(err, "get MigrationController "+ns+"/"+name, c.Host)
			}
			if running(cur) {
				return false, "a run is under way", nil
			}
		}
		switch {
		case condition(cur, "Successful") == "True":
			status = "reconciled"
			return true, status, nil
		case condition(cur, "Failure") == "True":
			return false, "", kube.Refusef("the MTC operator failed to reconcile MigrationController %s/%s (%s); fix the values it names and run helm upgrade again",
				ns, name, strings.TrimSuffix(conditionMessage(cur, "Failure"), "."))
		}
		return false, "no status yet", nil
	})
	return status, err
}

// running reports whether ansible-operator has a run of the object under way (Running True, reason
// Running).
func running(u *unstructured.Unstructured) bool {
	return condition(u, "Running") == "True" && conditionReason(u, "Running") == "Running"
}

// runWatch follows the MigrationController from the apply on, and keeps the object as the first run
// that started after the apply left it.
type runWatch struct {
	mu      sync.Mutex
	wasRun  bool // the last object seen had a run under way
	started bool
	end     *unstructured.Unstructured
	err     error
	// changed fires after each event the watch took in (one pending signal is enough).
	changed chan struct{}
}

func (r *runWatch) signal() {
	select {
	case r.changed <- struct{}{}:
	default:
	}
}

func (r *runWatch) observe(u *unstructured.Unstructured) {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := running(u)
	switch {
	case now && !r.wasRun:
		r.started = true // a run that began after the apply (one under way at the apply ends first)
	case !now && r.started && r.end == nil:
		r.end = u
	}
	r.wasRun = now
}

func (r *runWatch) ended() (*unstructured.Unstructured, string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case r.err != nil:
		return nil, "", r.err
	case r.end != nil:
		return r.end, "", nil
	case r.started:
		return nil, "the operator is running the applied spec", nil
	}
	return nil, "waiting for the operator to start a run with the applied spec", nil
}

// watchRuns watches the applied object from its resourceVersion (resuming after a dropped watch).
func (c *Configure) watchRuns(ctx context.Context, gvr schema.GroupVersionResource, applied *unstructured.Unstructured) (*runWatch, error) {
	ri := c.Dynamic.Resource(gvr).Namespace(applied.GetNamespace())
	sel := kube.NameSelector(applied.GetName())
	lw := &cache.ListWatch{
		WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			o.FieldSelector = sel
			return ri.Watch(ctx, o)
		},
	}
	w, err := watchtools.NewRetryWatcherWithContext(ctx, applied.GetResourceVersion(), lw)
	if err != nil {
		return nil, err
	}
	r := &runWatch{wasRun: running(applied), changed: make(chan struct{}, 1)}
	go func() {
		defer w.Stop()
		for ev := range w.ResultChan() {
			switch ev.Type {
			case watch.Added, watch.Modified:
				if u, ok := ev.Object.(*unstructured.Unstructured); ok {
					r.observe(u)
				}
			case watch.Deleted:
				r.fail(fmt.Errorf("MigrationController %s/%s was deleted while the operator reconciled it", applied.GetNamespace(), applied.GetName()))
			case watch.Error:
				r.fail(kube.Explain(apierrors.FromObject(ev.Object), "watch MigrationController "+applied.GetNamespace()+"/"+applied.GetName(), c.Host))
			}
			r.signal()
		}
	}()
	return r, nil
}

func (r *runWatch) fail(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err == nil {
		r.err = err
	}
}

// waitLegacyController waits for the legacy operator to write its version into the spec and, when the
// spec turns Velero on, for what it installs after that: the role writes the version in its third task,
// before it creates Deployment velero and DaemonSet restic, so the version alone says nothing about them.
func (c *Configure) waitLegacyController(ctx context.Context, gvr schema.GroupVersionResource, o *unstructured.Unstructured, deployment, what, remedy string) (string, error) {
	ns := o.GetNamespace()
	remedy += " and the velero and restic pods (oc get pods -n " + ns + ")"
	var status string
	err := c.Waiter.UntilWatching(ctx, what, remedy, []kube.Watch{kube.WatchNamed(c.Dynamic, gvr, ns, o.GetName())}, func(ctx context.Context) (bool, string, error) {
		cur, err := c.Dynamic.Resource(gvr).Namespace(ns).Get(ctx, o.GetName(), metav1.GetOptions{})
		if err != nil {
			return false, "", kube.Explain(err, "get MigrationController "+ns+"/"+o.GetName(), c.Host)
		}
		note := "no version written yet"
		v, _, _ := unstructured.NestedString(cur.Object, "spec", "version")
		if v != "" {
			missing := ""
			if on, _, _ := unstructured.NestedFieldNoCopy(cur.Object, "spec", "migration_velero"); kube.Truthy(on) {
				if missing, err = c.legacyVelero(ctx, ns); err != nil {
					return false, "", err
				}
			}
			if missing == "" {
				status = "reconciled by operator " + v
				return true, status, nil
			}
			note = "version " + v + " written; " + missing
		}
		if deployment != "" {
			// The legacy operator writes no status: what it could not do is only in its log.
			if line := c.legacyRefusal(ctx, ns, deployment); line != "" {
				return false, "", kube.Refusef("the legacy MTC operator cannot reconcile MigrationController %s/%s: the API server refused it (%s); its ServiceAccount lacks a permission that the chart's ClusterRole migration-operator grants, so restore that ClusterRole (helm upgrade) or lift the policy that narrows it",
					ns, o.GetName(), line)
			}
		}
		return false, note, nil
	})
	return status, err
}

// Names of what the legacy operator deploys for Velero.
const (
	legacyVeleroDeployment = "velero"
	legacyResticDaemonSet  = "restic"
)

// legacyVelero returns what of the legacy operator's Velero is not up yet ("" when Deployment velero is
// available and every pod DaemonSet restic scheduled is ready and of its current spec).
func (c *Configure) legacyVelero(ctx context.Context, ns string) (string, error) {
	var missing []string
	d, err := c.Kube.AppsV1().Deployments(ns).Get(ctx, legacyVeleroDeployment, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		missing = append(missing, "velero Deployment not created yet")
	case err != nil:
		return "", kube.Explain(err, "get Deployment "+ns+"/"+legacyVeleroDeployment, c.Host)
	case !deploymentAvailable(d):
		missing = append(missing, fmt.Sprintf("velero Deployment not available (%d of %d replicas)", d.Status.AvailableReplicas, d.Status.Replicas))
	}
	ds, err := c.Kube.AppsV1().DaemonSets(ns).Get(ctx, legacyResticDaemonSet, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		missing = append(missing, "restic DaemonSet not created yet")
	case err != nil:
		return "", kube.Explain(err, "get DaemonSet "+ns+"/"+legacyResticDaemonSet, c.Host)
	default:
		if m := daemonSetMissing(ds); m != "" {
			missing = append(missing, m)
		}
	}
	return strings.Join(missing, ", "), nil
}

// daemonSetMissing says why a DaemonSet is not rolled out ("" when it is): the controller has seen its
// spec, placed at least one pod, and every placed pod runs that spec and is ready.
func daemonSetMissing(ds *appsv1.DaemonSet) string {
	s := ds.Status
	switch {
	case s.ObservedGeneration < ds.Generation:
		return ds.Name + " rollout not observed yet"
	case s.DesiredNumberScheduled == 0 || s.NumberReady < s.DesiredNumberScheduled:
		return fmt.Sprintf("%s %d/%d ready", ds.Name, s.NumberReady, s.DesiredNumberScheduled)
	case s.UpdatedNumberScheduled < s.DesiredNumberScheduled:
		return fmt.Sprintf("%s %d/%d updated", ds.Name, s.UpdatedNumberScheduled, s.DesiredNumberScheduled)
	}
	return ""
}
