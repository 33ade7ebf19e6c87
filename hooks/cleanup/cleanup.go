// Package cleanup implements the cleanup hook: the MTC uninstall, made safe. It refuses while a migration
// runs, exports every MTC custom resource before deleting anything, and then removes MTC in an order that
// leaves nothing stuck: plans closed, migration records deleted while the controller still runs, plans,
// storages and remote clusters, the MigrationController, the operator, the CRDs and the cluster-scoped
// leftovers. Each step deletes in parallel and waits with a bound; a second run finds nothing to do.
//
// Where things are: Run (cleanup.go) reads the steps top to bottom; refuse.go holds what makes it
// refuse before anything is deleted (a running migration, data moving through a remote, an MTC this
// release did not install); export.go and restore.go the export and its restore; step1to4_mtc.go the
// steps on MTC's own objects (close plans, delete records, plans, the MigrationController);
// step5_operator.go the operator (OLM or legacy) and OADP; step6_crds.go the CRDs; step7_cluster.go the
// cluster-scoped leftovers; delete.go how every step deletes and waits.
package cleanup

import (
	"context"
	"io"
	"strings"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"

	"github.com/mtc-helm/mtc-helm/hooks/egress"
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
	// EgressKind and EgressUnmerge are the egress policies of the user's that configure merged MTC's
	// rules into (the chart passes them; Release names the owner); the last step takes those rules out.
	EgressKind    string
	EgressUnmerge []egress.Target
	// DryRun lists what would be deleted, in order, and changes nothing.
	DryRun bool
	// ExportFile, when set, also writes the export there.
	ExportFile string
	// OLMSettle is how long after OLM finished an InstallPlan or CSV here the cleanup waits before
	// removing the operator; zero means DefaultOLMSettle.
	OLMSettle time.Duration
	// OLMQuiet is how long, once the operator's CSVs are gone, nothing OLM makes again for them may
	// show up before the cleanup goes on; zero means DefaultOLMQuiet.
	OLMQuiet time.Duration
	// GCGrace is how long garbage collection gets to remove the Deployments and ServiceAccounts of deleted
	// owners before the cleanup deletes them itself; zero means 10 seconds.
	GCGrace time.Duration
	// Now is the clock for the export's name; nil is time.Now.
	Now func() time.Time
}

// run is one run of a Cleanup: its options, and what the run has learnt so far. Each Run starts a new
// one, so a Cleanup holds only what its caller set and can run again.
type run struct {
	*Cleanup
	// planned holds what a dry run would already have deleted, so that later steps see the cluster as it
	// would be by then.
	planned map[string]bool
	// veleroKept records that step 6 keeps the velero.io CRDs (for the dry run of step 7).
	veleroKept bool
	// exported holds the uids of the MTC objects the export saved; the steps delete no MTC object
	// outside it (one that a kind answering 404 for a moment kept out of the export, or one created
	// since). Nil on a dry run, which exports nothing.
	exported map[types.UID]bool
	// quiet are the quiet windows the steps registered, run together once the steps are done.
	quiet []*quietWatch
}

// Run performs the cleanup.
func (opts *Cleanup) Run(ctx context.Context) (*Report, error) {
	o := *opts
	o.Waiter.Log = o.Logger()
	return (&run{Cleanup: &o}).run(ctx)
}

func (c *run) run(ctx context.Context) (rep *Report, err error) {
	start := time.Now()
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
		c.Logger().Info("exporting the MTC objects", "objects", len(objs))
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
		if err := c.waitInstallPlans(ctx, ns, []target{{Kind: "Subscription"}}, true); err != nil {
			return rep, err
		}
	}
	steps := []func(context.Context, string) (*Step, error){
		c.closePlans, c.deleteRecords, c.deletePlans, c.deleteController,
	}
	if phase != PhasePreDelete {
		steps = append(steps, c.deleteOperator, c.deleteCRDs, c.deleteClusterLeftovers)
	}
	steps = append(steps, c.unmergeEgress)
	for i, step := range steps {
		c.Logger().Info("cleanup step", "step", i+1, "of", len(steps))
		s, err := step(ctx, ns)
		if s != nil {
			rep.Steps = append(rep.Steps, s)
		}
		if err != nil {
			return rep, err
		}
	}
	if err := c.settleQuiet(ctx); err != nil {
		return rep, err
	}
	rep.Result = "ok"
	if c.DryRun {
		rep.Result = "dry run ok"
	}
	return rep, nil
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
	t := kube.NewText(0)
	verb, closeVerb := "deleted", "closed"
	if r.DryRun {
		verb, closeVerb = "would delete", "would close"
		t.Line("DRY RUN: nothing was changed on %s", r.Cluster)
	} else {
		t.Field("cluster:", "%s", r.Cluster)
	}
	t.FieldIf("left alone:", r.Foreign)
	if r.Exported > 0 {
		where := strings.Join(r.Export, ", ")
		if r.File != "" {
			where += " and file " + r.File
		}
		if r.DryRun {
			t.Field("export:", "would save %d MTC objects before deleting anything", r.Exported)
		} else {
			t.Field("export:", "%d MTC objects saved in ConfigMap %s", r.Exported, where)
		}
	}
	for i, s := range r.Steps {
		t.Line("%d. %s", i+1, s.Name)
		if len(s.Closed) == 0 && len(s.Deleted) == 0 && len(s.Kept) == 0 && len(s.Notes) == 0 {
			t.Line("   nothing to do")
		}
		for _, group := range []struct {
			verb  string
			items []string
		}{{closeVerb, s.Closed}, {verb, s.Deleted}, {"kept", s.Kept}, {"note:", s.Notes}} {
			for _, it := range group.items {
				t.Line("   %s %s", group.verb, it)
			}
		}
	}
	t.Field("result:", "%s in %s", r.Result, r.Duration)
	return t.Print(w)
}

// warm lists, all at once and without keeping the answers, the kinds the later steps read: the API server
// answers the first consistent list of an idle kind only after about a second, and paying that once in
// parallel beats paying it step after step. Errors are left for the steps to report.
func (c *run) warm(ctx context.Context, ns string) {
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
