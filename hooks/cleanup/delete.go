package cleanup

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/mtc-helm/mtc-helm/hooks/kube"
)

// parallelism bounds the concurrent requests of one step.
const parallelism = 8

// target is one object to delete.
type target struct {
	GVR       schema.GroupVersionResource
	Kind      string
	Namespace string
	Name      string
	UID       types.UID
	// Finalizers the object had when it was listed.
	Finalizers []string
	// ByName makes waits read the object with get instead of listing its kind: for the single objects the
	// hook may only get by name (its RBAC lists resourceNames).
	ByName bool
	// Stalled is, for a CRD being deleted, why the API server's CRD finalizer last failed to remove its
	// instances (its Terminating condition), or "" while it makes progress.
	Stalled string
	// Recreated says that the object of that name now present is another one than the one deleted (its
	// UID differs) and is not being deleted: something made it again after the delete.
	Recreated bool
	// Labels of the object present.
	Labels map[string]string
}

func (t target) String() string {
	if t.Namespace == "" {
		return t.Kind + " " + t.Name
	}
	return t.Kind + " " + t.Namespace + "/" + t.Name
}

func targetOf(gvr schema.GroupVersionResource, kind string, u *unstructured.Unstructured) target {
	return target{GVR: gvr, Kind: kind, Namespace: u.GetNamespace(), Name: u.GetName(), UID: u.GetUID(), Finalizers: u.GetFinalizers()}
}

// list lists gvr in ns ("" for all namespaces or cluster scope). A resource type the server does not serve
// (its CRD already deleted, OLM absent) lists as empty.
func (c *run) list(ctx context.Context, gvr schema.GroupVersionResource, ns string) ([]unstructured.Unstructured, error) {
	return c.listSelected(ctx, gvr, ns, "")
}

// listSelected is list with a label selector ("" selects everything).
func (c *run) listSelected(ctx context.Context, gvr schema.GroupVersionResource, ns, selector string) ([]unstructured.Unstructured, error) {
	var items []unstructured.Unstructured
	err := c.retry(ctx, "list "+gvr.Resource, func(ctx context.Context) error {
		l, err := c.Dynamic.Resource(gvr).Namespace(ns).List(ctx, metav1.ListOptions{LabelSelector: selector})
		if err != nil {
			return err
		}
		items = c.withoutPlanned(gvr, l.Items)
		return nil
	})
	if kube.IsNotServed(err) {
		return nil, nil
	}
	if err != nil {
		return nil, c.listError(err, gvr, ns, selector)
	}
	return items, nil
}

// listMeta is list for what needs only the objects' metadata (names, labels, annotations, owners,
// finalizers, deletion): through the metadata client the API server sends no spec, status, schema or
// rules, which is what keeps the cleanup's memory small on a cluster whose CRDs and cluster roles weigh
// tens of megabytes. The objects hold apiVersion and metadata. Without a metadata client it lists whole
// objects.
func (c *run) listMeta(ctx context.Context, gvr schema.GroupVersionResource, ns string) ([]unstructured.Unstructured, error) {
	items, err := c.listMetaOrNotServed(ctx, gvr, ns)
	if kube.IsNotServed(err) {
		return nil, nil
	}
	if err != nil {
		return nil, c.listError(err, gvr, ns, "")
	}
	return items, nil
}

// listMetaOrNotServed is listMeta with the API server's error as it came, a type it does not serve
// included.
func (c *run) listMetaOrNotServed(ctx context.Context, gvr schema.GroupVersionResource, ns string) ([]unstructured.Unstructured, error) {
	var items []unstructured.Unstructured
	err := c.retry(ctx, "list "+gvr.Resource, func(ctx context.Context) error {
		if c.Metadata == nil {
			l, err := c.Dynamic.Resource(gvr).Namespace(ns).List(ctx, metav1.ListOptions{})
			if err != nil {
				return err
			}
			items = c.withoutPlanned(gvr, l.Items)
			return nil
		}
		l, err := c.Metadata.Resource(gvr).Namespace(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return err
		}
		items = make([]unstructured.Unstructured, 0, len(l.Items))
		for i := range l.Items {
			m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(&l.Items[i].ObjectMeta)
			if err != nil {
				return err
			}
			items = append(items, unstructured.Unstructured{Object: map[string]any{"apiVersion": gvr.GroupVersion().String(), "metadata": m}})
		}
		items = c.withoutPlanned(gvr, items)
		return nil
	})
	return items, err
}

// listAll lists several kinds at once. The API server may take a second to answer the first consistent
// list of an idle kind, so listing the kinds one after the other would add those seconds up.
func (c *run) listAll(ctx context.Context, gvrs []schema.GroupVersionResource, ns string) ([][]unstructured.Unstructured, error) {
	out := make([][]unstructured.Unstructured, len(gvrs))
	errs := make([]error, len(gvrs))
	var wg sync.WaitGroup
	for i, gvr := range gvrs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i], errs[i] = c.list(ctx, gvr, ns)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// countOutside says how many objects of gvr exist outside namespace ns (at least; the API server
// is asked for one, with how many remain). A kind the API server does not serve has none.
func (c *run) countOutside(ctx context.Context, gvr schema.GroupVersionResource, ns string) (int, error) {
	var n int
	err := c.retry(ctx, "list "+gvr.Resource, func(ctx context.Context) error {
		l, err := c.Dynamic.Resource(gvr).List(ctx, metav1.ListOptions{FieldSelector: "metadata.namespace!=" + ns, Limit: 1})
		if err != nil {
			return err
		}
		n = 0
		for _, it := range c.withoutPlanned(gvr, l.Items) {
			if it.GetNamespace() != ns { // a client that ignores the field selector
				n++
			}
		}
		if r := l.GetRemainingItemCount(); n > 0 && r != nil {
			n += int(*r)
		}
		return nil
	})
	if kube.IsNotServed(err) {
		return 0, nil
	}
	if err != nil {
		return 0, kube.Explain(err, fmt.Sprintf("list %s outside %s", gvr.GroupResource(), ns), c.Host)
	}
	return n, nil
}

func plannedKey(gvr schema.GroupVersionResource, ns, name string) string {
	return gvr.String() + "|" + ns + "|" + name
}

// withoutPlanned drops what the dry run has already listed for deletion.
func (c *run) withoutPlanned(gvr schema.GroupVersionResource, items []unstructured.Unstructured) []unstructured.Unstructured {
	if len(c.planned) == 0 {
		return items
	}
	out := items[:0:0]
	for _, it := range items {
		if !c.planned[plannedKey(gvr, it.GetNamespace(), it.GetName())] {
			out = append(out, it)
		}
	}
	return out
}

// plan records targets as deleted for the rest of a dry run.
func (c *run) plan(targets []target) {
	if c.planned == nil {
		c.planned = map[string]bool{}
	}
	for _, t := range targets {
		c.planned[plannedKey(t.GVR, t.Namespace, t.Name)] = true
	}
}

// retry runs fn, retrying transient API errors (an API server restart) within the wait bound.
func (c *run) retry(ctx context.Context, what string, fn func(ctx context.Context) error) error {
	return c.Waiter.Retry(ctx, what, fn)
}

// parallel runs fn for every target, at most parallelism at a time, and joins the errors.
func parallel(ctx context.Context, targets []target, fn func(ctx context.Context, t target) error) error {
	sem := make(chan struct{}, parallelism)
	var mu sync.Mutex
	var errs manyErrors
	var wg sync.WaitGroup
	for _, t := range targets {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			if err := fn(ctx, t); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	switch len(errs) {
	case 0:
		return nil
	case 1:
		return errs[0]
	}
	return errs
}

// manyErrors are the errors of a parallel round: errors.Is and errors.As see each of them, and the
// message stays one line, the first error and then the others.
type manyErrors []error

func (e manyErrors) Error() string {
	rest := make([]string, len(e)-1)
	for i, err := range e[1:] {
		rest[i] = err.Error()
	}
	return fmt.Sprintf("%s (and %d more: %s)", e[0], len(rest), strings.Join(rest, "; "))
}

func (e manyErrors) Unwrap() []error { return e }

// deleteTargets deletes every target in parallel; objects already gone count as deleted.
func (c *run) deleteTargets(ctx context.Context, targets []target) error {
	bg := metav1.DeletePropagationBackground
	return parallel(ctx, targets, func(ctx context.Context, t target) error {
		err := c.retry(ctx, "delete "+t.String(), func(ctx context.Context) error {
			return c.Dynamic.Resource(t.GVR).Namespace(t.Namespace).Delete(ctx, t.Name, metav1.DeleteOptions{PropagationPolicy: &bg})
		})
		if err == nil || apierrors.IsNotFound(err) {
			c.Logger().Info("deleted", "object", t.String())
			return nil
		}
		return kube.Explain(err, "delete "+t.String(), c.Host)
	})
}

// removeFinalizers clears the finalizers of the targets (used with --drop-finalizers only).
func (c *run) removeFinalizers(ctx context.Context, targets []target) error {
	patch := []byte(`{"metadata":{"finalizers":null}}`)
	return parallel(ctx, targets, func(ctx context.Context, t target) error {
		err := c.retry(ctx, "remove the finalizers of "+t.String(), func(ctx context.Context) error {
			_, err := c.Dynamic.Resource(t.GVR).Namespace(t.Namespace).Patch(ctx, t.Name, types.MergePatchType, patch, metav1.PatchOptions{})
			return err
		})
		if err == nil || apierrors.IsNotFound(err) {
			c.Logger().Warn("removed finalizers because of --drop-finalizers", "object", t.String(), "finalizers", strings.Join(t.Finalizers, ","))
			return nil
		}
		return kube.Explain(err, "remove the finalizers of "+t.String(), c.Host)
	})
}

// present returns the targets that still exist, with their current finalizers.
func (c *run) present(ctx context.Context, targets []target) ([]target, error) {
	type key struct {
		gvr schema.GroupVersionResource
		ns  string
	}
	groups := map[key][]target{}
	for _, t := range targets {
		k := key{t.GVR, t.Namespace}
		groups[k] = append(groups[k], t)
	}
	var left []target
	for k, ts := range groups {
		if ts[0].ByName {
			for _, t := range ts {
				u, err := c.Dynamic.Resource(t.GVR).Namespace(t.Namespace).Get(ctx, t.Name, metav1.GetOptions{})
				if apierrors.IsNotFound(err) {
					continue
				}
				if err != nil {
					return nil, kube.Explain(err, "get "+t.String(), c.Host)
				}
				t.observe(u)
				left = append(left, t)
			}
			continue
		}
		// Metadata only: a list of every CRD with its schema, every 250 ms, is what would weigh.
		items, err := c.listMetaOrNotServed(ctx, k.gvr, k.ns)
		if kube.IsNotServed(err) {
			continue
		}
		if err != nil {
			return nil, kube.Explain(err, fmt.Sprintf("list %s", k.gvr.GroupResource()), c.Host)
		}
		have := map[string]*unstructured.Unstructured{}
		for i := range items {
			have[items[i].GetName()] = &items[i]
		}
		for _, t := range ts {
			it, ok := have[t.Name]
			if !ok {
				continue
			}
			if t.GVR.GroupResource() == kube.CRDs.GroupResource() && it.GetDeletionTimestamp() != nil && c.Metadata != nil {
				// A CRD being deleted says in its status why its finalizer is stuck: read that one whole.
				full, err := c.Dynamic.Resource(t.GVR).Get(ctx, t.Name, metav1.GetOptions{})
				if apierrors.IsNotFound(err) {
					continue
				}
				if err != nil {
					return nil, kube.Explain(err, "get "+t.String(), c.Host)
				}
				it = full
			}
			t.observe(it)
			left = append(left, t)
		}
	}
	sort.Slice(left, func(i, j int) bool { return left[i].String() < left[j].String() })
	return left, nil
}

// observe records the state of the object that still holds the target's name.
func (t *target) observe(u *unstructured.Unstructured) {
	t.Finalizers = u.GetFinalizers()
	t.Labels = u.GetLabels()
	t.Recreated = t.UID != "" && u.GetUID() != t.UID && u.GetDeletionTimestamp() == nil
	if t.GVR.GroupResource() == kube.CRDs.GroupResource() {
		t.Stalled = finalizerStalled(u)
	}
}

// waitGone waits until none of the targets exists. onStuck, when not nil, is asked on every poll whether
// the objects still present can ever go; it returns an error to stop waiting.
func (c *run) waitGone(ctx context.Context, what string, targets []target, onStuck func([]target) error) error {
	if len(targets) == 0 {
		return nil
	}
	// Deletions usually finish within a second: poll faster than the default interval.
	w := c.Waiter
	if w.Interval <= 0 || w.Interval > 250*time.Millisecond {
		w.Interval = 250 * time.Millisecond
	}
	return w.UntilWatching(ctx, what+" to be deleted",
		"look for finalizers on what is left (oc get <kind> -o yaml) and at the controllers that remove them", c.watchesOf(targets),
		func(ctx context.Context) (bool, string, error) {
			left, err := c.present(ctx, targets)
			if err != nil {
				return false, "", err
			}
			if len(left) == 0 {
				return true, "", nil
			}
			if onStuck != nil {
				if err := onStuck(left); err != nil {
					return false, "", err
				}
			}
			names := make([]string, 0, len(left))
			for _, t := range left {
				n := t.String()
				if len(t.Finalizers) > 0 {
					n += " (finalizers " + strings.Join(t.Finalizers, ",") + ")"
				}
				if t.Stalled != "" {
					n += " (" + t.Stalled + ")"
				}
				if t.Recreated {
					n += " (made again after the delete)"
				}
				names = append(names, n)
			}
			if len(names) > 5 {
				names = append(names[:5], fmt.Sprintf("and %d more", len(names)-5))
			}
			return false, strings.Join(names, ", ") + " still present", nil
		})
}

// watchesOf watches each kind and namespace of the targets (metadata only, where the run has that
// client), so that a wait for their deletion looks again when one goes. A kind the cleanup may only get by
// name is left to the polls.
func (c *run) watchesOf(targets []target) []kube.Watch {
	type key struct {
		gvr schema.GroupVersionResource
		ns  string
	}
	seen := map[key]bool{}
	var ws []kube.Watch
	for _, t := range targets {
		k := key{t.GVR, t.Namespace}
		if t.ByName || seen[k] {
			continue
		}
		seen[k] = true
		ws = append(ws, c.watchKind(k.gvr, k.ns))
	}
	return ws
}

// watchKind watches every object of a kind in ns ("" every namespace, or a cluster-scoped kind), metadata
// only where the run has that client.
func (c *run) watchKind(gvr schema.GroupVersionResource, ns string) kube.Watch {
	if c.Metadata == nil {
		return kube.WatchAll(c.Dynamic, gvr, ns)
	}
	return func(ctx context.Context) (watch.Interface, error) {
		return c.Metadata.Resource(gvr).Namespace(ns).Watch(ctx, metav1.ListOptions{})
	}
}

func names(ts []target) []string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = t.String()
	}
	return out
}

// finalizerStalled returns the message of a deleted CRD's Terminating condition when the API server's CRD
// finalizer failed its last attempt to remove the instances, and "" otherwise.
func finalizerStalled(u *unstructured.Unstructured) string {
	if u.GetDeletionTimestamp() == nil {
		return ""
	}
	conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	for _, c := range conds {
		m, _ := c.(map[string]any)
		if m["type"] != "Terminating" || m["status"] != "True" {
			continue
		}
		if r, _ := m["reason"].(string); r == "InstanceDeletionFailed" || r == "InstanceDeletionCheck" {
			msg, _ := m["message"].(string)
			return r + ": " + msg
		}
	}
	return ""
}

// finalizerRequeueAnnotation is set on a CRD whose finalizer stalled, to make the API server retry now.
const finalizerRequeueAnnotation = "mtc-helm.io/finalizer-requeued"

// requeueStalledCRDs touches the CRDs whose finalizer stalled, at most once per interval each. The API
// server's CRD finalizer retries a failed attempt (for example "storage is (re)initializing" while the
// storage of a CRD OLM has just updated is rebuilt) with an exponential backoff that reaches minutes,
// and any metadata change of the CRD puts it back at the head of its queue.
func (c *run) requeueStalledCRDs(ctx context.Context, left []target, last map[string]time.Time, every time.Duration) error {
	var stalled []target
	now := time.Now()
	for _, t := range left {
		if t.Stalled != "" && now.Sub(last[t.Name]) >= every {
			last[t.Name] = now
			stalled = append(stalled, t)
		}
	}
	patch := fmt.Appendf(nil, `{"metadata":{"annotations":{%q:%q}}}`, finalizerRequeueAnnotation, now.UTC().Format(time.RFC3339Nano))
	return parallel(ctx, stalled, func(ctx context.Context, t target) error {
		_, err := c.Dynamic.Resource(t.GVR).Patch(ctx, t.Name, types.MergePatchType, patch, metav1.PatchOptions{})
		if err == nil || apierrors.IsNotFound(err) {
			c.Logger().Info("asked the API server to retry removing the instances of a deleted CRD", "object", t.String(), "stalled", t.Stalled)
			return nil
		}
		return kube.Explain(err, "annotate "+t.String()+" to retry its finalizer", c.Host)
	})
}

// redeleteRecreated deletes again the CRDs and OLM-made objects that came back after their delete. OLM's
// catalog operator goes on executing an InstallPlan for up to half a minute after the InstallPlan itself
// was garbage-collected with its Subscription (its client is rate-limited), and makes again the CRDs and
// RBAC of the bundle it is applying. Only objects an installer makes are deleted again: anything else that
// comes back was made by someone else and stays, named by the wait.
func (c *run) redeleteRecreated(ctx context.Context, left []target) error {
	var again []target
	for _, t := range left {
		if !t.Recreated {
			continue
		}
		olm := t.Labels["olm.managed"] == "true"
		if t.GVR.GroupResource() != kube.CRDs.GroupResource() && !olm {
			continue
		}
		c.Logger().Info("deleting again what an installer still at work made again", "object", t.String())
		again = append(again, t)
	}
	return c.deleteTargets(ctx, again)
}

// deleteAndWait deletes the targets and waits for them. DVMs that keep their finalizer while no controller
// runs get it removed with --drop-finalizers, else the wait stops with a refusal that says so.
func (c *run) deleteAndWait(ctx context.Context, ns string, s *Step, what string, targets []target) error {
	if c.exported != nil {
		var unexported []string
		for _, t := range targets {
			if t.GVR.Group == kube.MigrationGroup && !c.exported[t.UID] {
				unexported = append(unexported, t.String())
			}
		}
		if len(unexported) > 0 {
			// Deleting it, or the CRDs after it, would lose an object no export holds.
			return kube.Refusef("%s is not in this run's export (it was created, or its kind could not be read, after the export was taken), so the cleanup stopped before %s; run it again, which exports it first",
				strings.Join(unexported, ", "), what)
		}
	}
	s.Deleted = append(s.Deleted, names(targets)...)
	if c.DryRun {
		c.plan(targets)
		return nil
	}
	if len(targets) == 0 {
		return nil
	}
	if err := c.deleteTargets(ctx, targets); err != nil {
		return err
	}
	requeued := map[string]time.Time{}
	return c.waitGone(ctx, what, targets, func(left []target) error {
		if err := c.requeueStalledCRDs(ctx, left, requeued, crdRequeueEvery); err != nil {
			return err
		}
		if err := c.redeleteRecreated(ctx, left); err != nil {
			return err
		}
		var held []target
		for _, t := range left {
			if slices.Contains(t.Finalizers, DVMFinalizer) {
				held = append(held, t)
			}
		}
		if len(held) == 0 {
			return nil
		}
		up, err := c.controllerRunning(ctx, ns)
		if err != nil {
			return err
		}
		if up {
			// The controller removes the finalizer only after cleaning up on both clusters of the
			// migration: a cluster it cannot connect to keeps it for good.
			why, err := c.unreachableClusters(ctx, held)
			if err != nil || len(why) == 0 {
				return err
			}
			if !c.DropFinalizers {
				return kube.Refusef("%s keeps the finalizer %s: mig-controller removes it only after cleaning up on both clusters of the migration, and %s; make that cluster reachable and rerun, or rerun with --drop-finalizers to drop it and leave that migration's rsync pods and routes there",
					strings.Join(names(held), ", "), DVMFinalizer, strings.Join(why, ", "))
			}
			s.Notes = append(s.Notes, "removed the finalizer of "+strings.Join(names(held), ", ")+" (--drop-finalizers, "+strings.Join(why, ", ")+")")
			return c.removeFinalizers(ctx, held)
		}
		if !c.DropFinalizers {
			return kube.Refusef("%s keeps the finalizer %s, which only a running mig-controller removes, and the controller is not running; start it again (oc scale deployment/%s -n %s --replicas=1) and rerun, or rerun with --drop-finalizers to drop it and leave the rsync pods and routes of that migration behind",
				strings.Join(names(held), ", "), DVMFinalizer, kube.ControllerName, ns)
		}
		s.Notes = append(s.Notes, "removed the finalizer of "+strings.Join(names(held), ", ")+" (--drop-finalizers, controller not running)")
		return c.removeFinalizers(ctx, held)
	})
}

// helmOwned is true for objects a Helm release manages (the release deletes them itself) and for hook
// objects (this hook's own ServiceAccount and RBAC among them).
func helmOwned(u *unstructured.Unstructured) bool {
	a := u.GetAnnotations()
	return a["meta.helm.sh/release-name"] != "" || a["helm.sh/hook"] != ""
}

func ownedByAnyone(u *unstructured.Unstructured) bool { return len(u.GetOwnerReferences()) > 0 }

// get returns the object, or nil when it or its type does not exist.
func (c *run) get(ctx context.Context, gvr schema.GroupVersionResource, ns, name string) (*unstructured.Unstructured, error) {
	var u *unstructured.Unstructured
	err := c.retry(ctx, "get "+gvr.Resource+" "+name, func(ctx context.Context) error {
		var err error
		u, err = c.Dynamic.Resource(gvr).Namespace(ns).Get(ctx, name, metav1.GetOptions{})
		return err
	})
	if apierrors.IsNotFound(err) || (err == nil && c.planned[plannedKey(gvr, ns, name)]) {
		return nil, nil
	}
	if err != nil {
		return nil, kube.Explain(err, fmt.Sprintf("get %s %s", gvr.GroupResource(), name), c.Host)
	}
	return u, nil
}

// listError explains a failed list of gvr in ns ("" for all namespaces), labelled selector when set.
func (c *run) listError(err error, gvr schema.GroupVersionResource, ns, selector string) error {
	where := "in all namespaces"
	if ns != "" {
		where = "in " + ns
	}
	if selector != "" {
		where = "labelled " + selector + " " + where
	}
	return kube.Explain(err, fmt.Sprintf("list %s %s", gvr.GroupResource(), where), c.Host)
}

// nameOf returns the targets' object names (names gives "Kind namespace/name" for the report).
func nameOf(ts []target) []string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = t.Name
	}
	return out
}
