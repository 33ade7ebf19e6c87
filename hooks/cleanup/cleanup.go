// Package cleanup implements the cleanup hook: the MTC uninstall, made safe. It refuses while a migration
// runs, exports every MTC custom resource before deleting anything, and then removes MTC in an order that
// leaves nothing stuck: plans closed, migration records deleted while the controller still runs, plans,
// storages and remote clusters, the MigrationController, the operator, the CRDs and the cluster-scoped
// leftovers. Each step deletes in parallel and waits with a bound; a second run finds nothing to do.
package cleanup

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"

	"github.com/mtc-helm/mtc-helm/hooks/kube"
)

// Phases: the pre-delete hook stops after the MigrationController, while the operator and the controller
// still run; the post-delete hook (and the CLI) do everything.
const (
	PhasePreDelete  = "pre-delete"
	PhasePostDelete = "post-delete"
	PhaseAll        = "all"
)

// DVMFinalizer is the finalizer MTC 1.8 puts on DirectVolumeMigrations; only a running controller removes it.
const DVMFinalizer = "migration.openshift.io/directvolumemigrationfinalizer"

// crdRequeueEvery paces the requests that make the API server retry a stalled CRD finalizer.
const crdRequeueEvery = 3 * time.Second

// Cleanup is the cleanup action.
type Cleanup struct {
	kube.Action
	// Phase is PhasePreDelete, PhasePostDelete or PhaseAll (the default).
	Phase string
	// Three separate risks, each its own switch:
	// DuringMigration deletes even while a migration runs (--during-migration; the chart's
	// hooks.cleanup.duringMigration).
	DuringMigration bool
	// DropFinalizers removes the DirectVolumeMigration finalizer that no running mig-controller
	// will remove (--drop-finalizers), leaving that migration's rsync pods and routes behind.
	DropFinalizers bool
	// DeleteShared removes OADP and the velero.io and oadp.openshift.io CRDs although something else
	// still uses them (--delete-shared; the CLI only, never a chart value).
	DeleteShared bool
	// Release, when set (the chart's hooks pass the release name), makes the cleanup remove MTC only
	// when this release brought it; an MTC installed otherwise is left untouched and the report
	// says so. Empty (the CLI's default) treats the namespace's MTC as the one to remove.
	Release string
	// DryRun lists what would be deleted, in order, and changes nothing.
	DryRun bool
	// ExportFile, when set, also writes the export there.
	ExportFile string
	// OLMSettle is how long after OLM finished an InstallPlan or CSV here the cleanup waits before
	// removing the operator; zero means DefaultOLMSettle.
	OLMSettle time.Duration
	// GCGrace is how long garbage collection gets to remove the Deployments and ServiceAccounts of deleted
	// owners before the cleanup deletes them itself; zero means 10 seconds.
	GCGrace time.Duration
	// Now is the clock for the export's name; nil is time.Now.
	Now func() time.Time

	// planned holds what a dry run would already have deleted, so that later steps see the cluster as it
	// would be by then.
	planned map[string]bool
	// veleroKept records that step 6 keeps the velero.io CRDs (for the dry run of step 7).
	veleroKept bool
	// exported holds the uids of the MTC objects the export saved; the steps delete no MTC object
	// outside it (one that a kind answering 404 for a moment kept out of the export, or one created
	// since). Nil on a dry run, which exports nothing.
	exported map[types.UID]bool
}

// Step is what one step of the cleanup did.
type Step struct {
	Name    string   `json:"name"`
	Closed  []string `json:"closed,omitempty"`
	Deleted []string `json:"deleted,omitempty"`
	Kept    []string `json:"kept,omitempty"`
	Notes   []string `json:"notes,omitempty"`
}

// Report is what the cleanup did (or, with DryRun, would do).
type Report struct {
	Cluster  string   `json:"cluster"`
	DryRun   bool     `json:"dryRun"`
	Phase    string   `json:"phase"`
	Exported int      `json:"exported"`
	Export   []string `json:"exportConfigMaps,omitempty"`
	File     string   `json:"exportFile,omitempty"`
	// Foreign says why the namespace's MTC is not the release's; the cleanup then did nothing.
	Foreign  string  `json:"foreign,omitempty"`
	Steps    []*Step `json:"steps"`
	Result   string  `json:"result"`
	Duration string  `json:"duration"`
}

// WriteText prints the report for people.
func (r *Report) WriteText(w io.Writer) error {
	var b strings.Builder
	verb, closeVerb := "deleted", "closed"
	if r.DryRun {
		verb, closeVerb = "would delete", "would close"
		fmt.Fprintf(&b, "DRY RUN: nothing was changed on %s\n", r.Cluster)
	} else {
		fmt.Fprintf(&b, "cluster: %s\n", r.Cluster)
	}
	if r.Foreign != "" {
		fmt.Fprintf(&b, "left alone: %s\n", r.Foreign)
	}
	if r.Exported > 0 {
		where := strings.Join(r.Export, ", ")
		if r.File != "" {
			where += " and file " + r.File
		}
		if r.DryRun {
			fmt.Fprintf(&b, "export: would save %d MTC objects before deleting anything\n", r.Exported)
		} else {
			fmt.Fprintf(&b, "export: %d MTC objects saved in ConfigMap %s\n", r.Exported, where)
		}
	}
	for i, s := range r.Steps {
		fmt.Fprintf(&b, "%d. %s\n", i+1, s.Name)
		if len(s.Closed) == 0 && len(s.Deleted) == 0 && len(s.Kept) == 0 && len(s.Notes) == 0 {
			fmt.Fprintf(&b, "   nothing to do\n")
		}
		for _, d := range s.Closed {
			fmt.Fprintf(&b, "   %s %s\n", closeVerb, d)
		}
		for _, d := range s.Deleted {
			fmt.Fprintf(&b, "   %s %s\n", verb, d)
		}
		for _, k := range s.Kept {
			fmt.Fprintf(&b, "   kept %s\n", k)
		}
		for _, n := range s.Notes {
			fmt.Fprintf(&b, "   note: %s\n", n)
		}
	}
	fmt.Fprintf(&b, "result: %s in %s\n", r.Result, r.Duration)
	_, err := io.WriteString(w, b.String())
	return err
}

// Run performs the cleanup.
func (c *Cleanup) Run(ctx context.Context) (rep *Report, err error) {
	start := time.Now()
	c.Waiter.Log = c.Logger()
	ns := c.NS()
	phase := c.Phase
	if phase == "" {
		phase = PhaseAll
	}
	rep = &Report{Cluster: c.Host, DryRun: c.DryRun, Phase: phase, Result: "failed"}
	defer func() { rep.Duration = time.Since(start).Round(time.Millisecond).String() }()

	// 0. Read every MTC object (one parallel round of lists), refuse while a migration runs, and export
	// before deleting anything.
	warmed := make(chan struct{})
	go func() {
		defer close(warmed)
		c.warm(ctx, ns)
	}()
	objs, err := c.collect(ctx)
	<-warmed
	if err != nil {
		return rep, err
	}
	foreign, err := c.foreignMTC(ctx, ns, objs)
	if err != nil {
		return rep, err
	}
	if foreign != "" {
		rep.Foreign = foreign + "; release " + c.Release + " did not install this MTC, so the cleanup left it and everything of it as it is"
		rep.Result = "ok"
		c.Logger().Info("left an MTC this release did not install", "why", foreign)
		return rep, nil
	}
	if err := c.refuseRunning(objs); err != nil {
		return rep, err
	}
	if err := c.refuseActiveTransfers(ctx, ns); err != nil {
		return rep, err
	}
	rep.Exported = len(objs)
	if !c.DryRun {
		c.exported = make(map[types.UID]bool, len(objs))
		for _, o := range objs {
			c.exported[o.GetUID()] = true
		}
	}
	if len(objs) > 0 && !c.DryRun {
		now := time.Now
		if c.Now != nil {
			now = c.Now
		}
		names, err := c.export(ctx, ns, objs, now().UTC().Format("20060102-150405"))
		rep.Export = names
		if err != nil {
			return rep, err
		}
		rep.File = c.ExportFile
		c.Logger().Info("exported the MTC objects", "objects", len(objs), "configMaps", strings.Join(names, ","), "file", c.ExportFile)
	}

	if phase == PhasePreDelete {
		// Helm deletes the Subscription (and garbage collection its InstallPlan) between the two
		// phases; an InstallPlan still executing then goes on making objects after the cleanup looked.
		// Its Subscription still exists here, so this is where to wait for it.
		if err := c.waitInstallPlans(ctx, ns, []target{{Kind: "Subscription"}}); err != nil {
			return rep, err
		}
	}
	steps := []func(context.Context, string) (*Step, error){
		c.closePlans, c.deleteRecords, c.deletePlans, c.deleteController,
	}
	if phase != PhasePreDelete {
		steps = append(steps, c.deleteOperator, c.deleteCRDs, c.deleteClusterLeftovers)
	}
	for _, step := range steps {
		s, err := step(ctx, ns)
		if s != nil {
			rep.Steps = append(rep.Steps, s)
		}
		if err != nil {
			return rep, err
		}
	}
	rep.Result = "ok"
	if c.DryRun {
		rep.Result = "dry run ok"
	}
	return rep, nil
}

// warm lists, all at once and without keeping the answers, the kinds the later steps read: the API server
// answers the first consistent list of an idle kind only after about a second, and paying that once in
// parallel beats paying it step after step. Errors are left for the steps to report.
func (c *Cleanup) warm(ctx context.Context, ns string) {
	gvrs := []schema.GroupVersionResource{kube.CSVs, kube.DataProtectionApps, kube.VeleroBackups, kube.VeleroRestores,
		kube.VeleroSchedules, kube.CRDs, kube.ClusterRoles, kube.ClusterRoleBindings}
	var wg sync.WaitGroup
	for _, gvr := range gvrs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _ = c.Dynamic.Resource(gvr).List(ctx, metav1.ListOptions{Limit: 1})
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		_, _ = c.Dynamic.Resource(kube.Subscriptions).Namespace(ns).List(ctx, metav1.ListOptions{Limit: 1})
	}()
	wg.Wait()
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

func (c *Cleanup) refuseRunning(objs []*unstructured.Unstructured) error {
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
func (c *Cleanup) controllerRunning(ctx context.Context, ns string) (bool, error) {
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

// 1. Close every MigPlan, so the controller removes what the plan created on the clusters.
func (c *Cleanup) closePlans(ctx context.Context, ns string) (*Step, error) {
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
	err = w.Until(ctx, fmt.Sprintf("%d MigPlans to be Closed", len(open)), "", func(ctx context.Context) (bool, string, error) {
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
	if asTimeout(err, &te) && ctx.Err() == nil {
		s.Notes = append(s.Notes, "the plans did not all report Closed within "+w.Timeout.String()+"; going on, their resources on the clusters may stay")
		return s, nil
	}
	return s, err
}

// 2. Delete the migration records while the controller still runs (MTC 1.8 holds DVMs with a finalizer).
func (c *Cleanup) deleteRecords(ctx context.Context, ns string) (*Step, error) {
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

// deleteAndWait deletes the targets and waits for them. DVMs that keep their finalizer while no controller
// runs get it removed with --drop-finalizers, else the wait stops with a refusal that says so.
func (c *Cleanup) deleteAndWait(ctx context.Context, ns string, s *Step, what string, targets []target) error {
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

// unreachableClusters says which source or destination MigClusters of the DVMs mig-controller cannot
// clean up on: gone, or a remote whose connection test failed.
func (c *Cleanup) unreachableClusters(ctx context.Context, dvms []target) ([]string, error) {
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
func (c *Cleanup) deletePlans(ctx context.Context, ns string) (*Step, error) {
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
func (c *Cleanup) deleteController(ctx context.Context, ns string) (*Step, error) {
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

func asTimeout(err error, te **kube.TimeoutError) bool {
	if err == nil {
		return false
	}
	t, ok := err.(*kube.TimeoutError)
	if ok {
		*te = t
	}
	return ok
}
