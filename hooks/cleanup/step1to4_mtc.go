package cleanup

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"

	"github.com/mtc-helm/mtc-helm/hooks/kube"
)

// 1. Close every MigPlan, so the controller removes what the plan created on the clusters.
func (c *run) closePlans(ctx context.Context, ns string) (*Step, error) {
	s := &Step{Name: "close MigPlans (the controller removes what they created on each cluster)"}
	plans, err := c.list(ctx, kube.MigPlans, "")
	if err != nil {
		return s, err
	}
	var open []target
	for i := range plans {
		if !condTrue(&plans[i], "Closed") && plans[i].GetDeletionTimestamp() == nil {
			open = append(open, targetOf(kube.MigPlans, "MigPlan", &plans[i]))
		}
	}
	if len(open) == 0 {
		return s, nil
	}
	s.Closed = names(open)
	if c.DryRun {
		return s, nil
	}
	patch := []byte(`{"spec":{"closed":true}}`)
	err = parallel(ctx, open, func(ctx context.Context, t target) error {
		err := c.retry(ctx, "close "+t.String(), func(ctx context.Context) error {
			_, err := c.Dynamic.Resource(t.GVR).Namespace(t.Namespace).Patch(ctx, t.Name, types.MergePatchType, patch, metav1.PatchOptions{})
			return err
		})
		if apierrors.IsNotFound(err) {
			return nil
		}
		return kube.Explain(err, "close "+t.String(), c.Host)
	})
	if err != nil {
		return s, err
	}
	up, err := c.controllerRunning(ctx, ns)
	if err != nil {
		return s, err
	}
	if !up {
		s.Notes = append(s.Notes, "mig-controller is not running, so nothing closes the plans; resources they created on the clusters may stay (look for the label migration.openshift.io/migrated-by-migplan)")
		return s, nil
	}
	w := c.Waiter
	if w.Timeout == 0 || w.Timeout > time.Minute {
		w.Timeout = time.Minute
	}
	err = w.UntilWatching(ctx, fmt.Sprintf("%d MigPlans to be Closed", len(open)), "", []kube.Watch{c.watchKind(kube.MigPlans, "")}, func(ctx context.Context) (bool, string, error) {
		plans, err := c.list(ctx, kube.MigPlans, "")
		if err != nil {
			return false, "", err
		}
		n := 0
		for i := range plans {
			if !condTrue(&plans[i], "Closed") {
				n++
			}
		}
		return n == 0, fmt.Sprintf("%d not closed", n), nil
	})
	var te *kube.TimeoutError
	if errors.As(err, &te) && ctx.Err() == nil {
		s.Notes = append(s.Notes, "the plans did not all report Closed within "+w.Timeout.String()+"; going on, their resources on the clusters may stay")
		return s, nil
	}
	return s, err
}

// 2. Delete the migration records while the controller still runs (MTC 1.8 holds DVMs with a finalizer).
func (c *run) deleteRecords(ctx context.Context, ns string) (*Step, error) {
	s := &Step{Name: "delete MigMigrations, DirectVolumeMigrations and the other migration records while the controller runs"}
	kinds := []struct {
		gvr  schema.GroupVersionResource
		kind string
	}{
		{kube.MigMigrations, "MigMigration"}, {kube.DVMs, "DirectVolumeMigration"}, {kube.DVMPs, "DirectVolumeMigrationProgress"},
		{kube.DIMs, "DirectImageMigration"}, {kube.DISMs, "DirectImageStreamMigration"}, {kube.MigAnalytics, "MigAnalytic"},
	}
	gvrs := make([]schema.GroupVersionResource, len(kinds))
	for i, k := range kinds {
		gvrs[i] = k.gvr
	}
	lists, err := c.listAll(ctx, gvrs, "")
	if err != nil {
		return s, err
	}
	var targets []target
	for j, items := range lists {
		for i := range items {
			targets = append(targets, targetOf(kinds[j].gvr, kinds[j].kind, &items[i]))
		}
	}
	return s, c.deleteAndWait(ctx, ns, s, "the migration records", targets)
}

// unreachableClusters says which source or destination MigClusters of the DVMs mig-controller cannot
// clean up on: gone, or a remote whose connection test failed.
func (c *run) unreachableClusters(ctx context.Context, dvms []target) ([]string, error) {
	var why []string
	for _, t := range dvms {
		dvm, err := c.get(ctx, t.GVR, t.Namespace, t.Name)
		if err != nil || dvm == nil {
			return nil, err
		}
		for _, side := range []string{"srcMigClusterRef", "destMigClusterRef"} {
			name, _, _ := unstructured.NestedString(dvm.Object, "spec", side, "name")
			if name == "" {
				continue
			}
			ns, _, _ := unstructured.NestedString(dvm.Object, "spec", side, "namespace")
			ns = cmp.Or(ns, dvm.GetNamespace())
			mc, err := c.get(ctx, kube.MigClusters, ns, name)
			if err != nil {
				return nil, err
			}
			switch {
			case mc == nil:
				why = append(why, "MigCluster "+ns+"/"+name+" is gone")
			case condTrue(mc, "TestConnectFailed"):
				why = append(why, "MigCluster "+ns+"/"+name+" cannot be reached ("+strings.TrimSuffix(kube.ConditionMessage(mc, "TestConnectFailed"), ".")+")")
			}
		}
	}
	slices.Sort(why)
	return slices.Compact(why), nil
}

// 3. Delete plans, storages, hooks and the remote MigClusters (the host one belongs to the operator).
func (c *run) deletePlans(ctx context.Context, ns string) (*Step, error) {
	s := &Step{Name: "delete MigPlans, MigStorages, MigHooks and remote MigClusters"}
	kinds := []struct {
		gvr  schema.GroupVersionResource
		kind string
	}{{kube.MigPlans, "MigPlan"}, {kube.MigStorages, "MigStorage"}, {kube.MigHooks, "MigHook"}, {kube.MigClusters, "MigCluster"}}
	lists, err := c.listAll(ctx, []schema.GroupVersionResource{kube.MigPlans, kube.MigStorages, kube.MigHooks, kube.MigClusters}, "")
	if err != nil {
		return s, err
	}
	var targets []target
	for j, items := range lists {
		k := kinds[j]
		for i := range items {
			if k.kind == "MigCluster" {
				if host, _, _ := unstructured.NestedBool(items[i].Object, "spec", "isHostCluster"); host {
					continue
				}
			}
			targets = append(targets, targetOf(k.gvr, k.kind, &items[i]))
		}
	}
	return s, c.deleteAndWait(ctx, ns, s, "the plans, storages and remote clusters", targets)
}

// 4. Delete the MigrationController and, with it, the host MigCluster and the DataProtectionApplication
// `velero` it created. Garbage collection would take those (and the Deployments) through their owner
// references, but it notices new resource types only every 30 seconds; deleting them directly keeps this
// step short and works where no garbage collector runs.
func (c *run) deleteController(ctx context.Context, ns string) (*Step, error) {
	s := &Step{Name: "delete the MigrationController with the host MigCluster and Velero it created (its Deployments follow by garbage collection)"}
	items, err := c.list(ctx, kube.MigrationControllers, "")
	if err != nil {
		return s, err
	}
	var targets []target
	for i := range items {
		targets = append(targets, targetOf(kube.MigrationControllers, "MigrationController", &items[i]))
	}
	hosts, err := c.list(ctx, kube.MigClusters, "")
	if err != nil {
		return s, err
	}
	for i := range hosts {
		targets = append(targets, targetOf(kube.MigClusters, "MigCluster", &hosts[i]))
	}
	dpas, err := c.list(ctx, kube.DataProtectionApps, ns)
	if err != nil {
		return s, err
	}
	for i := range dpas {
		if mtcDPA(&dpas[i], ns) {
			targets = append(targets, targetOf(kube.DataProtectionApps, "DataProtectionApplication", &dpas[i]))
		}
	}
	var owners []types.UID
	for _, t := range targets {
		owners = append(owners, t.UID)
	}
	if err := c.deleteAndWait(ctx, ns, s, "the MigrationController and what it created", targets); err != nil {
		return s, err
	}
	// The controller, web console and Velero Deployments (and their ServiceAccounts) hang off these.
	return s, c.deleteDependents(ctx, ns, s, owners)
}
