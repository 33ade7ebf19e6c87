package cleanup

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/mtc-helm/mtc-helm/hooks/kube"
)

// Labels mig-controller puts on what it creates for a migration (MC@release-1.8
// pkg/apis/migration/v1alpha1 labels; mtc-facts §6a).
const (
	migratedByPlanLabel = "migration.openshift.io/migrated-by-migplan"
	migPlanNameLabel    = "migration.openshift.io/migplan-name"
	rsyncOwnerSelector  = "owner=directvolumemigration"
)

// veleroDone are the phases of a Velero Backup or Restore that has finished.
var veleroDone = map[string]bool{"Completed": true, "PartiallyFailed": true, "Failed": true, "FailedValidation": true, "Deleting": true}

// refuseActiveTransfers refuses while this cluster takes part in a migration whose MigMigration
// lives elsewhere: on a remote cluster the control cluster runs the migration, and what shows it
// here is an MTC Velero Backup or Restore in the namespace that has not finished, or a
// DirectVolumeMigration rsync pod in any namespace.
func (c *run) refuseActiveTransfers(ctx context.Context, ns string) error {
	var active []string
	plans := map[string]bool{}
	for _, k := range []struct {
		kind string
		gvr  schema.GroupVersionResource
	}{{"Backup", kube.VeleroBackups}, {"Restore", kube.VeleroRestores}} {
		items, err := c.listLabelled(ctx, k.gvr, ns)
		if err != nil {
			return err
		}
		for i := range items {
			phase, _, _ := unstructured.NestedString(items[i].Object, "status", "phase")
			if veleroDone[phase] {
				continue
			}
			active = append(active, fmt.Sprintf("Velero %s %s/%s (%s)", k.kind, ns, items[i].GetName(), orNew(phase)))
			plans[planOf(items[i].GetLabels())] = true
		}
	}
	var pods *corev1.PodList
	err := c.retry(ctx, "list the rsync pods", func(ctx context.Context) error {
		var err error
		pods, err = c.Kube.CoreV1().Pods(metav1.NamespaceAll).List(ctx, metav1.ListOptions{LabelSelector: rsyncOwnerSelector})
		return err
	})
	if err != nil {
		return kube.Explain(err, "list the DirectVolumeMigration rsync pods (label "+rsyncOwnerSelector+")", c.Host)
	}
	for _, p := range pods.Items {
		if p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed || p.DeletionTimestamp != nil {
			continue
		}
		active = append(active, "rsync pod "+p.Namespace+"/"+p.Name)
		plans[planOf(p.Labels)] = true
	}
	if len(active) == 0 {
		return nil
	}
	if c.DuringMigration {
		c.Logger().Warn("deleting MTC while a migration moves data through this cluster, because of --during-migration", "objects", strings.Join(active, ","))
		return nil
	}
	var names []string
	for p := range plans {
		names = append(names, p)
	}
	sort.Strings(names)
	return kube.Refusef("%s show that a migration of %s is still moving data through this cluster, so nothing was deleted; let it finish or cancel its MigMigration on the control cluster, or rerun with --during-migration (hooks.cleanup.duringMigration)",
		strings.Join(active, ", "), strings.Join(names, ", "))
}

// listLabelled lists the objects of a kind in ns that mig-controller made for a migration; a kind
// the cluster does not serve (no Velero installed) has none.
func (c *run) listLabelled(ctx context.Context, gvr schema.GroupVersionResource, ns string) ([]unstructured.Unstructured, error) {
	var items []unstructured.Unstructured
	err := c.retry(ctx, "list "+gvr.Resource, func(ctx context.Context) error {
		l, err := c.Dynamic.Resource(gvr).Namespace(ns).List(ctx, metav1.ListOptions{LabelSelector: migratedByPlanLabel})
		if err != nil {
			return err
		}
		items = l.Items
		return nil
	})
	if kube.IsNotServed(err) {
		return nil, nil
	}
	if err != nil {
		return nil, kube.Explain(err, fmt.Sprintf("list %s in %s", gvr.GroupResource(), ns), c.Host)
	}
	return items, nil
}

func planOf(labels map[string]string) string {
	if n := labels[migPlanNameLabel]; n != "" {
		return "MigPlan " + n
	}
	if uid := labels[migratedByPlanLabel]; uid != "" {
		return "the MigPlan with uid " + uid
	}
	return "a MigPlan"
}

func orNew(phase string) string {
	if phase == "" {
		return "New"
	}
	return phase
}

// running reports whether a MigMigration is in progress: a Running condition, or started and not yet
// Succeeded, Failed or Canceled.
func running(u *unstructured.Unstructured) bool {
	if u.GetDeletionTimestamp() != nil {
		return false
	}
	conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	has := map[string]bool{}
	for _, x := range conds {
		if m, ok := x.(map[string]any); ok && m["status"] == "True" {
			t, _ := m["type"].(string)
			has[t] = true
		}
	}
	if has["Succeeded"] || has["Failed"] || has["Canceled"] {
		return false
	}
	if has["Running"] {
		return true
	}
	phase, _, _ := unstructured.NestedString(u.Object, "status", "phase")
	started, _, _ := unstructured.NestedString(u.Object, "status", "startTimestamp")
	return started != "" && phase != "" && phase != "Completed"
}

func (c *run) refuseRunning(objs []*unstructured.Unstructured) error {
	var run []string
	var first *unstructured.Unstructured
	for _, o := range objs {
		if o.GetKind() == "MigMigration" && running(o) {
			run = append(run, o.GetNamespace()+"/"+o.GetName())
			if first == nil {
				first = o
			}
		}
	}
	if len(run) == 0 {
		return nil
	}
	if c.DuringMigration {
		c.Logger().Warn("deleting MTC while migrations run, because of --during-migration", "migrations", strings.Join(run, ","))
		return nil
	}
	return kube.Refusef("MigMigration %s is still running, and uninstalling now would leave the migrated namespaces half-moved, so nothing was deleted; wait for it to finish or cancel it (oc patch migmigration %s -n %s --type merge -p '{\"spec\":{\"canceled\":true}}'), or rerun with --during-migration (hooks.cleanup.duringMigration)",
		strings.Join(run, ", "), first.GetName(), first.GetNamespace())
}

// controllerRunning reports whether mig-controller has an available replica, which it needs to close
// plans and to remove the DirectVolumeMigration finalizer.
func (c *run) controllerRunning(ctx context.Context, ns string) (bool, error) {
	d, err := c.Kube.AppsV1().Deployments(ns).Get(ctx, kube.ControllerName, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, kube.Explain(err, "get Deployment "+ns+"/"+kube.ControllerName, c.Host)
	}
	return d.Status.AvailableReplicas > 0, nil
}

func condTrue(u *unstructured.Unstructured, typ string) bool { return kube.ConditionTrue(u, typ) }

// foreignMTC says why the MTC in the namespace is not the release's, or "" when it is, or when
// there is none. With a release name set (the chart's hooks pass it), the cleanup removes an MTC
// only when this release brought it:
//   - an mtc-operator Subscription that Helm does not manage for this release (a manual install,
//     or another release's) is not ours; Helm deletes our own before post-delete, so there a
//     remaining one is never ours;
//   - the same for a legacy operator Deployment outside OLM;
//   - a MigrationController without this release's instance label was made by someone else.
func (c *run) foreignMTC(ctx context.Context, ns string, objs []*unstructured.Unstructured) (string, error) {
	if c.Release == "" {
		return "", nil
	}
	var why []string
	subs, err := c.list(ctx, kube.Subscriptions, ns)
	if err != nil {
		return "", err
	}
	for i := range subs {
		pkg, _, _ := unstructured.NestedString(subs[i].Object, "spec", "name")
		if pkg != kube.OperatorPackage || subs[i].GetDeletionTimestamp() != nil {
			continue
		}
		if r := subs[i].GetAnnotations()[kube.HelmReleaseNameKey]; r != c.Release {
			why = append(why, "Subscription "+ns+"/"+subs[i].GetName()+" "+byWhom(r))
		}
	}
	dep, err := c.get(ctx, kube.Deployments, ns, kube.LegacyOperator)
	if err != nil {
		return "", err
	}
	if dep != nil && !kube.OLMOwned(dep) && dep.GetDeletionTimestamp() == nil {
		if r := dep.GetAnnotations()[kube.HelmReleaseNameKey]; r != c.Release {
			why = append(why, "Deployment "+ns+"/"+kube.LegacyOperator+" "+byWhom(r))
		}
	}
	for _, o := range objs {
		if o.GetKind() != "MigrationController" || o.GetNamespace() != ns || o.GetDeletionTimestamp() != nil {
			continue
		}
		if r := o.GetLabels()[kube.InstanceLabel]; r != c.Release {
			who := "was not made by a Helm release"
			if r != "" {
				who = "belongs to release " + r
			}
			why = append(why, "MigrationController "+ns+"/"+o.GetName()+" "+who)
		}
	}
	slices.Sort(why)
	return strings.Join(why, ", "), nil
}

func byWhom(release string) string {
	if release == "" {
		return "was not installed by Helm"
	}
	return "belongs to release " + release
}
