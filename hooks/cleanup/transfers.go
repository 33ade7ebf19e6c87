package cleanup

import (
	"context"
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
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
func (c *Cleanup) refuseActiveTransfers(ctx context.Context, ns string) error {
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
func (c *Cleanup) listLabelled(ctx context.Context, gvr schema.GroupVersionResource, ns string) ([]unstructured.Unstructured, error) {
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
