// Package olm is the OLM double: a stand-in for Operator Lifecycle Manager, for tests and the demo on
// the local cluster, where the real OLM cannot run. It is not OLM and says so: every object it
// creates carries the annotation mtc-helm.dev/double: olm.
//
// It plays OLM's part for the operators MTC needs, faithfully where the hooks and charts can see it:
//   - A Subscription resolves against a CatalogSource that must exist (else the conditions
//     CatalogSourcesUnhealthy and ResolutionFailed, as OLM sets them) and against the Catalog (the
//     package, the channel or its default, spec.startingCSV on the first install).
//   - Resolution is per namespace, as OLM's: the bundles' olm.package dependencies are satisfied by a
//     Subscription to that package in the namespace (whose channel then must offer a version in range,
//     else ResolutionFailed) or by a new Subscription that the double creates, named
//     <package>-<channel>-<source>-<sourceNamespace> like OLM's.
//   - One InstallPlan per resolution, owned by the Subscriptions it serves, listing the CSVs in
//     spec.clusterServiceVersionNames; it waits in RequiresApproval while any of those Subscriptions
//     is Manual and spec.approved is false.
//   - Installing creates the bundles' CRDs (never deleted again), the CSV (Pending → InstallReady →
//     Installing → Succeeded), the ServiceAccounts and the operator Deployment, both owned by the CSV,
//     so deleting the CSV garbage-collects them. The CSV fails (NoOperatorGroup,
//     TooManyOperatorGroups, UnsupportedOperatorGroup) unless exactly one OperatorGroup in the
//     namespace selects an install mode the bundle supports (OwnNamespace).
//   - A channel change or a newer head produces a new InstallPlan and a CSV that replaces the old
//     one: the new CSV takes the Deployment over, the old one goes Replacing and is deleted once the
//     new one Succeeded.
//   - Deleting a Subscription leaves its CSV. A CSV deleted under a Subscription is not reinstalled
//     (newer OLM releases reinstall it).
//
// It polls the API (every Options.Interval) and acts on what it lists, so an apiserver restart only
// delays it.
package olm

import (
	"context"
	"fmt"
	rbacv1 "k8s.io/api/rbac/v1"
	"log/slog"
	"math/rand"
	"slices"
	"sort"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/mtc-helm/mtc-helm/internal/doubles/conditions"
	"github.com/mtc-helm/mtc-helm/internal/doubles/poll"
	"github.com/mtc-helm/mtc-helm/internal/mtccrds"
)

// DoubleAnnotation marks every object a double creates; its value names the double.
const DoubleAnnotation = "mtc-helm.dev/double"

const doubleName = "olm"

// OLM resources.
var (
	Subscriptions  = schema.GroupVersionResource{Group: "operators.coreos.com", Version: "v1alpha1", Resource: "subscriptions"}
	InstallPlans   = schema.GroupVersionResource{Group: "operators.coreos.com", Version: "v1alpha1", Resource: "installplans"}
	CSVs           = schema.GroupVersionResource{Group: "operators.coreos.com", Version: "v1alpha1", Resource: "clusterserviceversions"}
	CatalogSources = schema.GroupVersionResource{Group: "operators.coreos.com", Version: "v1alpha1", Resource: "catalogsources"}
	OperatorGroups = schema.GroupVersionResource{Group: "operators.coreos.com", Version: "v1", Resource: "operatorgroups"}
)

// CSV phases and Subscription states, as OLM names them.
const (
	PhasePending           = "Pending"
	PhaseInstallReady      = "InstallReady"
	PhaseInstalling        = "Installing"
	PhaseSucceeded         = "Succeeded"
	PhaseFailed            = "Failed"
	PhaseReplacing         = "Replacing"
	PlanRequiresApproval   = "RequiresApproval"
	PlanInstalling         = "Installing"
	PlanComplete           = "Complete"
	PlanFailed             = "Failed"
	StateUpgradePending    = "UpgradePending"
	StateAtLatestKnown     = "AtLatestKnown"
	CondResolutionFailed   = "ResolutionFailed"
	CondCatalogUnhealthy   = "CatalogSourcesUnhealthy"
	CondInstallPlanPending = "InstallPlanPending"
)

// Options configure the double.
type Options struct {
	// Config is an admin client configuration of the cluster.
	Config *rest.Config
	// Catalog is what every CatalogSource serves; nil is DefaultCatalog().
	Catalog Catalog
	// Interval is the polling period (default 250ms).
	Interval time.Duration
	// Log receives what the double does; nil discards it.
	Log *slog.Logger
}

// Double is a running OLM double.
type Double struct {
	opts Options
	dyn  dynamic.Interface
	kube kubernetes.Interface
	log  *slog.Logger
	loop *poll.Loop
}

// Start checks that the cluster serves OLM's API and starts the double; Stop ends it.
func Start(ctx context.Context, opts Options) (*Double, error) {
	if opts.Catalog == nil {
		opts.Catalog = DefaultCatalog()
	}
	if opts.Interval == 0 {
		opts.Interval = 250 * time.Millisecond
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	cfg := rest.CopyConfig(opts.Config)
	cfg.QPS, cfg.Burst = 200, 400
	cfg.WarningHandler = rest.NoWarnings{}
	d := &Double{opts: opts, log: opts.Log.With("double", doubleName)}
	var err error
	if d.dyn, err = dynamic.NewForConfig(cfg); err != nil {
		return nil, err
	}
	if d.kube, err = kubernetes.NewForConfig(cfg); err != nil {
		return nil, err
	}
	if _, err := d.dyn.Resource(Subscriptions).List(ctx, metav1.ListOptions{Limit: 1}); err != nil {
		return nil, fmt.Errorf("the OLM double needs a cluster that serves operators.coreos.com (the ocp4 flavour): %w", err)
	}
	d.loop = poll.Start(opts.Interval, d.sync)
	return d, nil
}

// Stop ends the double and waits for its loop to return. It may be called more than once.
func (d *Double) Stop() { d.loop.Stop() }

// world is what one pass lists.
type world struct {
	subs, plans, csvs, ogs map[string][]unstructured.Unstructured // by namespace
	catalogs               map[string]bool                        // "ns/name"
}

func (d *Double) list(ctx context.Context, gvr schema.GroupVersionResource) (map[string][]unstructured.Unstructured, error) {
	l, err := d.dyn.Resource(gvr).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	out := map[string][]unstructured.Unstructured{}
	for _, u := range l.Items {
		out[u.GetNamespace()] = append(out[u.GetNamespace()], u)
	}
	for _, items := range out {
		sort.Slice(items, func(i, j int) bool {
			ti, tj := items[i].GetCreationTimestamp(), items[j].GetCreationTimestamp()
			if !ti.Equal(&tj) {
				return ti.Before(&tj)
			}
			return items[i].GetName() < items[j].GetName()
		})
	}
	return out, nil
}

func (d *Double) sync(ctx context.Context) {
	var w world
	var err error
	if w.subs, err = d.list(ctx, Subscriptions); err != nil {
		d.log.Debug("list subscriptions", "err", err)
		return
	}
	if w.csvs, err = d.list(ctx, CSVs); err != nil {
		d.log.Debug("list CSVs", "err", err)
		return
	}
	d.collectClusterPermissions(ctx, w.csvs)
	if len(w.subs) == 0 && len(w.csvs) == 0 {
		return
	}
	if w.plans, err = d.list(ctx, InstallPlans); err != nil {
		return
	}
	if w.ogs, err = d.list(ctx, OperatorGroups); err != nil {
		return
	}
	cats, err := d.list(ctx, CatalogSources)
	if err != nil {
		return
	}
	w.catalogs = map[string]bool{}
	for ns, items := range cats {
		for _, c := range items {
			if c.GetDeletionTimestamp() == nil {
				w.catalogs[ns+"/"+c.GetName()] = true
			}
		}
	}
	for ns, ogs := range w.ogs {
		for i := range ogs {
			d.syncOperatorGroup(ctx, ns, &ogs[i])
		}
	}
	nss := make([]string, 0, len(w.subs))
	for ns := range w.subs {
		nss = append(nss, ns)
	}
	sort.Strings(nss)
	for _, ns := range nss {
		if err := d.resolve(ctx, ns, &w); err != nil && ctx.Err() == nil {
			d.log.Debug("resolve", "namespace", ns, "err", err)
		}
	}
	for ns, csvs := range w.csvs {
		for i := range csvs {
			if ours(&csvs[i]) {
				if err := d.syncCSV(ctx, ns, &csvs[i], w.ogs[ns]); err != nil && ctx.Err() == nil {
					d.log.Debug("sync CSV", "csv", ns+"/"+csvs[i].GetName(), "err", err)
				}
			}
		}
	}
}

func ours(u *unstructured.Unstructured) bool {
	return u.GetAnnotations()[DoubleAnnotation] == doubleName
}

func annotate(u *unstructured.Unstructured) {
	a := u.GetAnnotations()
	if a == nil {
		a = map[string]string{}
	}
	a[DoubleAnnotation] = doubleName
	u.SetAnnotations(a)
}

func now() string { return time.Now().UTC().Format(time.RFC3339) }

// syncOperatorGroup writes status.namespaces as OLM does.
func (d *Double) syncOperatorGroup(ctx context.Context, ns string, og *unstructured.Unstructured) {
	targets, _, _ := unstructured.NestedStringSlice(og.Object, "spec", "targetNamespaces")
	want := []any{""}
	if len(targets) > 0 {
		want = nil
		for _, t := range targets {
			want = append(want, t)
		}
	}
	have, _, _ := unstructured.NestedSlice(og.Object, "status", "namespaces")
	if fmt.Sprint(have) == fmt.Sprint(want) {
		return
	}
	_ = unstructured.SetNestedSlice(og.Object, want, "status", "namespaces")
	_ = unstructured.SetNestedField(og.Object, now(), "status", "lastUpdated")
	_, _ = d.dyn.Resource(OperatorGroups).Namespace(ns).UpdateStatus(ctx, og, metav1.UpdateOptions{})
}

// item is one CSV a resolution installs, for one Subscription.
type item struct {
	sub    *unstructured.Unstructured
	bundle Bundle
}

// resolve handles one namespace: it moves an InstallPlan in flight along, or resolves the
// Subscriptions and creates the next InstallPlan.
func (d *Double) resolve(ctx context.Context, ns string, w *world) error {
	subs := w.subs[ns]
	for i := range w.plans[ns] {
		p := &w.plans[ns][i]
		if !ours(p) || p.GetDeletionTimestamp() != nil {
			continue
		}
		switch phase, _, _ := unstructured.NestedString(p.Object, "status", "phase"); phase {
		case PlanRequiresApproval, PlanInstalling, "":
			return d.progressPlan(ctx, ns, p, subs, w)
		}
	}

	csvByName := map[string]*unstructured.Unstructured{}
	installed := map[string]string{} // package → version of a CSV present in the namespace
	for i := range w.csvs[ns] {
		c := &w.csvs[ns][i]
		csvByName[c.GetName()] = c
		if b, ok := d.opts.Catalog.BundleByCSV(c.GetName()); ok && c.GetDeletionTimestamp() == nil {
			if compare(b.Version, installed[b.Package]) > 0 {
				installed[b.Package] = b.Version
			}
		}
	}

	var items []item
	desired := map[string]Bundle{} // package → bundle being installed in this round
	for i := range subs {
		sub := &subs[i]
		if sub.GetDeletionTimestamp() != nil {
			continue
		}
		b, ok, err := d.desired(ctx, sub, w)
		if err != nil {
			return err
		}
		if !ok {
			continue
		}
		inst, _, _ := unstructured.NestedString(sub.Object, "status", "installedCSV")
		if inst != "" {
			ib, known := d.opts.Catalog.BundleByCSV(inst)
			if b.CSV == inst || (known && compare(b.Version, ib.Version) <= 0) || csvByName[inst] == nil {
				// Up to date, no downgrade, or the CSV was deleted under the Subscription.
				if err := d.markLatest(ctx, sub, inst); err != nil {
					return err
				}
				continue
			}
		}
		items = append(items, item{sub: sub, bundle: b})
		desired[b.Package] = b
	}
	if len(items) == 0 {
		return nil
	}

	// Dependencies.
	var plan []item
	var newSubs []item
	for _, it := range items {
		var gen []item
		failed := ""
		for _, dep := range it.bundle.Depends {
			if s := subForPackage(subs, dep.Package); s != nil {
				v, from := desired[dep.Package].Version, "resolves to"
				if v == "" {
					inst, _, _ := unstructured.NestedString(s.Object, "status", "installedCSV")
					if ib, ok := d.opts.Catalog.BundleByCSV(inst); ok {
						v, from = ib.Version, "has installed"
					}
				}
				if v == "" || !dep.Satisfied(v) {
					ch, _, _ := unstructured.NestedString(s.Object, "spec", "channel")
					failed = fmt.Sprintf("constraints not satisfiable: bundle %s requires %s, but Subscription %s (channel %s) %s %s; switch that Subscription to a channel that provides it",
						it.bundle.CSV, dep, s.GetName(), ch, from, orNone(v))
					break
				}
				continue
			}
			if v := installed[dep.Package]; v != "" && dep.Satisfied(v) {
				continue
			}
			if b, ok := desired[dep.Package]; ok && dep.Satisfied(b.Version) {
				continue
			}
			b, ch, ok := d.pick(dep)
			if !ok {
				failed = fmt.Sprintf("constraints not satisfiable: bundle %s requires %s, and no channel of the catalog provides it", it.bundle.CSV, dep)
				break
			}
			src, _, _ := unstructured.NestedString(it.sub.Object, "spec", "source")
			srcNS, _, _ := unstructured.NestedString(it.sub.Object, "spec", "sourceNamespace")
			s := &unstructured.Unstructured{Object: map[string]any{
				"apiVersion": "operators.coreos.com/v1alpha1", "kind": "Subscription",
				"metadata": map[string]any{
					"name": fmt.Sprintf("%s-%s-%s-%s", dep.Package, ch, src, srcNS), "namespace": ns,
					"labels": map[string]any{"operators.coreos.com/" + dep.Package + "." + ns: ""},
				},
				"spec": map[string]any{"name": dep.Package, "channel": ch, "source": src, "sourceNamespace": srcNS,
					"installPlanApproval": "Automatic"},
			}}
			annotate(s)
			gen = append(gen, item{sub: s, bundle: b})
			desired[dep.Package] = b
		}
		if failed != "" {
			if err := d.failSub(ctx, it.sub, CondResolutionFailed, "ConstraintsNotSatisfiable", failed); err != nil {
				return err
			}
			continue
		}
		plan = append(plan, it)
		newSubs = append(newSubs, gen...)
	}
	for i, it := range newSubs {
		created, err := d.dyn.Resource(Subscriptions).Namespace(ns).Create(ctx, it.sub, metav1.CreateOptions{})
		if apierrors.IsAlreadyExists(err) {
			created, err = d.dyn.Resource(Subscriptions).Namespace(ns).Get(ctx, it.sub.GetName(), metav1.GetOptions{})
		}
		if err != nil {
			return fmt.Errorf("failed to create Subscription %s/%s for a dependency: %w", ns, it.sub.GetName(), err)
		}
		d.log.Info("created a Subscription for a dependency", "subscription", ns+"/"+created.GetName())
		newSubs[i].sub = created
	}
	plan = append(plan, newSubs...)
	if len(plan) == 0 {
		return nil
	}
	return d.createPlan(ctx, ns, plan, len(w.plans[ns])+1)
}

func orNone(v string) string {
	if v == "" {
		return "nothing yet"
	}
	return v
}

func subForPackage(subs []unstructured.Unstructured, pkg string) *unstructured.Unstructured {
	for i := range subs {
		if p, _, _ := unstructured.NestedString(subs[i].Object, "spec", "name"); p == pkg && subs[i].GetDeletionTimestamp() == nil {
			return &subs[i]
		}
	}
	return nil
}

// pick chooses the newest bundle in range, from the default channel first.
func (d *Double) pick(dep Dependency) (Bundle, string, bool) {
	p := d.opts.Catalog[dep.Package]
	if p == nil {
		return Bundle{}, "", false
	}
	for _, ch := range p.ChannelNames() {
		bs := p.Channels[ch]
		for i := len(bs) - 1; i >= 0; i-- {
			if dep.Satisfied(bs[i].Version) {
				return bs[i], ch, true
			}
		}
	}
	return Bundle{}, "", false
}

// desired resolves one Subscription to the bundle it should run. ok is false when resolution failed
// (the Subscription's conditions then say why).
func (d *Double) desired(ctx context.Context, sub *unstructured.Unstructured, w *world) (Bundle, bool, error) {
	pkgName, _, _ := unstructured.NestedString(sub.Object, "spec", "name")
	src, _, _ := unstructured.NestedString(sub.Object, "spec", "source")
	srcNS, _, _ := unstructured.NestedString(sub.Object, "spec", "sourceNamespace")
	channel, _, _ := unstructured.NestedString(sub.Object, "spec", "channel")
	starting, _, _ := unstructured.NestedString(sub.Object, "spec", "startingCSV")
	if !w.catalogs[srcNS+"/"+src] {
		return Bundle{}, false, d.updateSub(ctx, sub, func(u *unstructured.Unstructured) bool {
			a := conditions.Set(u, map[string]any{"type": CondCatalogUnhealthy, "status": "True", "reason": "UnhealthyCatalogSourceFound",
				"message": fmt.Sprintf("targeted catalog source %s/%s is missing", srcNS, src)})
			b := conditions.Set(u, map[string]any{"type": CondResolutionFailed, "status": "True", "reason": "ConstraintsNotSatisfiable",
				"message": fmt.Sprintf("no operators found from catalog %s in namespace %s referenced by subscription %s", src, srcNS, sub.GetName())})
			return a || b
		})
	}
	fail := func(msg string) (Bundle, bool, error) {
		return Bundle{}, false, d.updateSub(ctx, sub, func(u *unstructured.Unstructured) bool {
			a := conditions.Set(u, map[string]any{"type": CondCatalogUnhealthy, "status": "False", "reason": "AllCatalogSourcesHealthy", "message": "all available catalogsources are healthy"})
			b := conditions.Set(u, map[string]any{"type": CondResolutionFailed, "status": "True", "reason": "ConstraintsNotSatisfiable", "message": msg})
			return a || b
		})
	}
	p := d.opts.Catalog[pkgName]
	if p == nil {
		return fail(fmt.Sprintf("no operators found in package %s in the catalog referenced by subscription %s", pkgName, sub.GetName()))
	}
	if channel == "" {
		channel = p.DefaultChannel
	}
	head, ok := p.Head(channel)
	if !ok {
		return fail(fmt.Sprintf("no operators found in channel %s of package %s in the catalog referenced by subscription %s", channel, pkgName, sub.GetName()))
	}
	inst, _, _ := unstructured.NestedString(sub.Object, "status", "installedCSV")
	if inst == "" && starting != "" {
		b, ok := p.Find(channel, starting)
		if !ok {
			return fail(fmt.Sprintf("no operators found with name %s in channel %s of package %s in the catalog referenced by subscription %s", starting, channel, pkgName, sub.GetName()))
		}
		return b, true, nil
	}
	return head, true, nil
}

// updateSub applies mutate to a fresh copy of the Subscription's status and writes it when changed.
func (d *Double) updateSub(ctx context.Context, sub *unstructured.Unstructured, mutate func(*unstructured.Unstructured) bool) error {
	ri := d.dyn.Resource(Subscriptions).Namespace(sub.GetNamespace())
	cur, err := ri.Get(ctx, sub.GetName(), metav1.GetOptions{})
	if err != nil {
		return err
	}
	if !mutate(cur) {
		return nil
	}
	_ = unstructured.SetNestedField(cur.Object, now(), "status", "lastUpdated")
	_, err = ri.UpdateStatus(ctx, cur, metav1.UpdateOptions{})
	return err
}

func (d *Double) failSub(ctx context.Context, sub *unstructured.Unstructured, typ, reason, msg string) error {
	return d.updateSub(ctx, sub, func(u *unstructured.Unstructured) bool {
		return conditions.Set(u, map[string]any{"type": typ, "status": "True", "reason": reason, "message": msg})
	})
}

// markLatest records that the Subscription runs what it should.
func (d *Double) markLatest(ctx context.Context, sub *unstructured.Unstructured, installed string) error {
	return d.updateSub(ctx, sub, func(u *unstructured.Unstructured) bool {
		changed := conditions.Remove(u, CondResolutionFailed)
		changed = conditions.Remove(u, CondInstallPlanPending) || changed
		changed = conditions.Set(u, map[string]any{"type": CondCatalogUnhealthy, "status": "False", "reason": "AllCatalogSourcesHealthy", "message": "all available catalogsources are healthy"}) || changed
		st, _, _ := unstructured.NestedString(u.Object, "status", "state")
		cur, _, _ := unstructured.NestedString(u.Object, "status", "currentCSV")
		if st != StateAtLatestKnown || cur != installed {
			_ = unstructured.SetNestedField(u.Object, StateAtLatestKnown, "status", "state")
			_ = unstructured.SetNestedField(u.Object, installed, "status", "currentCSV")
			changed = true
		}
		return changed
	})
}

var letters = []rune("bcdfghjklmnpqrstvwxz2456789")

func suffix() string {
	b := make([]rune, 5)
	for i := range b {
		b[i] = letters[rand.Intn(len(letters))]
	}
	return string(b)
}

// createPlan creates the InstallPlan of one resolution and points each Subscription at it.
func (d *Double) createPlan(ctx context.Context, ns string, items []item, generation int) error {
	approval := "Automatic"
	var csvNames []any
	var owners []any
	var catalogs []any
	for _, it := range items {
		if a, _, _ := unstructured.NestedString(it.sub.Object, "spec", "installPlanApproval"); a == "Manual" {
			approval = "Manual"
		}
		csvNames = append(csvNames, it.bundle.CSV)
		owners = append(owners, map[string]any{"apiVersion": "operators.coreos.com/v1alpha1", "kind": "Subscription",
			"name": it.sub.GetName(), "uid": string(it.sub.GetUID()), "blockOwnerDeletion": false, "controller": false})
		src, _, _ := unstructured.NestedString(it.sub.Object, "spec", "source")
		if !slices.Contains(catalogs, any(src)) {
			catalogs = append(catalogs, src)
		}
	}
	labels := map[string]any{}
	for _, it := range items {
		labels["operators.coreos.com/"+it.bundle.Package+"."+ns] = ""
	}
	p := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "operators.coreos.com/v1alpha1", "kind": "InstallPlan",
		"metadata": map[string]any{"name": "install-" + suffix(), "namespace": ns, "ownerReferences": owners, "labels": labels},
		"spec": map[string]any{"approval": approval, "approved": approval == "Automatic",
			"clusterServiceVersionNames": csvNames, "generation": int64(generation)},
	}}
	annotate(p)
	ri := d.dyn.Resource(InstallPlans).Namespace(ns)
	created, err := ri.Create(ctx, p, metav1.CreateOptions{})
	if err != nil {
		return fmt.Errorf("failed to create an InstallPlan in %s: %w", ns, err)
	}
	phase := PlanInstalling
	if approval == "Manual" {
		phase = PlanRequiresApproval
	}
	var steps []any
	for _, it := range items {
		steps = append(steps, map[string]any{"resolving": it.bundle.CSV, "status": "Unknown",
			"resource": map[string]any{"group": "operators.coreos.com", "version": "v1alpha1", "kind": "ClusterServiceVersion", "name": it.bundle.CSV, "sourceName": catalogs[0], "sourceNamespace": ns}})
	}
	created.Object["status"] = map[string]any{"phase": phase, "catalogSources": catalogs, "plan": steps, "startTime": now()}
	if _, err := ri.UpdateStatus(ctx, created, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("failed to set the status of InstallPlan %s/%s: %w", ns, created.GetName(), err)
	}
	d.log.Info("created an InstallPlan", "installPlan", ns+"/"+created.GetName(), "csvs", csvNames, "approval", approval)
	for _, it := range items {
		reason := "Installing"
		if phase == PlanRequiresApproval {
			reason = "RequiresApproval"
		}
		err := d.updateSub(ctx, it.sub, func(u *unstructured.Unstructured) bool {
			conditions.Remove(u, CondResolutionFailed)
			conditions.Set(u, map[string]any{"type": CondCatalogUnhealthy, "status": "False", "reason": "AllCatalogSourcesHealthy", "message": "all available catalogsources are healthy"})
			conditions.Set(u, map[string]any{"type": CondInstallPlanPending, "status": "True", "reason": reason})
			st := u.Object["status"].(map[string]any)
			st["state"] = StateUpgradePending
			st["currentCSV"] = it.bundle.CSV
			st["installPlanGeneration"] = int64(generation)
			st["installPlanRef"] = map[string]any{"apiVersion": "operators.coreos.com/v1alpha1", "kind": "InstallPlan",
				"name": created.GetName(), "namespace": ns, "uid": string(created.GetUID()), "resourceVersion": created.GetResourceVersion()}
			st["installplan"] = map[string]any{"apiVersion": "operators.coreos.com/v1alpha1", "kind": "InstallPlan",
				"name": created.GetName(), "uuid": string(created.GetUID())}
			return true
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// progressPlan waits for approval, then installs the plan's CSVs and completes it.
func (d *Double) progressPlan(ctx context.Context, ns string, p *unstructured.Unstructured, subs []unstructured.Unstructured, w *world) error {
	ri := d.dyn.Resource(InstallPlans).Namespace(ns)
	phase, _, _ := unstructured.NestedString(p.Object, "status", "phase")
	if phase == PlanRequiresApproval {
		if approved, _, _ := unstructured.NestedBool(p.Object, "spec", "approved"); !approved {
			return nil
		}
		_ = unstructured.SetNestedField(p.Object, PlanInstalling, "status", "phase")
		updated, err := ri.UpdateStatus(ctx, p, metav1.UpdateOptions{})
		if err != nil {
			return err
		}
		p = updated
		for i := range subs {
			if ref, _, _ := unstructured.NestedString(subs[i].Object, "status", "installPlanRef", "name"); ref == p.GetName() {
				_ = d.updateSub(ctx, &subs[i], func(u *unstructured.Unstructured) bool {
					return conditions.Set(u, map[string]any{"type": CondInstallPlanPending, "status": "True", "reason": "Installing"})
				})
			}
		}
	}
	names, _, _ := unstructured.NestedStringSlice(p.Object, "spec", "clusterServiceVersionNames")
	for _, n := range names {
		b, ok := d.opts.Catalog.BundleByCSV(n)
		if !ok {
			return d.finishPlan(ctx, p, PlanFailed, "bundle "+n+" is not in the catalog")
		}
		if err := d.install(ctx, ns, b, w); err != nil {
			return err // retried on the next pass
		}
	}
	if err := d.finishPlan(ctx, p, PlanComplete, ""); err != nil {
		return err
	}
	for i := range subs {
		if ref, _, _ := unstructured.NestedString(subs[i].Object, "status", "installPlanRef", "name"); ref != p.GetName() {
			continue
		}
		err := d.updateSub(ctx, &subs[i], func(u *unstructured.Unstructured) bool {
			cur, _, _ := unstructured.NestedString(u.Object, "status", "currentCSV")
			_ = unstructured.SetNestedField(u.Object, cur, "status", "installedCSV")
			_ = unstructured.SetNestedField(u.Object, StateAtLatestKnown, "status", "state")
			conditions.Remove(u, CondInstallPlanPending)
			return true
		})
		if err != nil {
			return err
		}
	}
	return nil
}

func (d *Double) finishPlan(ctx context.Context, p *unstructured.Unstructured, phase, msg string) error {
	status := "True"
	reason := "InstallSucceeded"
	if phase == PlanFailed {
		status, reason = "False", "InstallComponentFailed"
	}
	_ = unstructured.SetNestedField(p.Object, phase, "status", "phase")
	conditions.Set(p, map[string]any{"type": "Installed", "status": status, "reason": reason, "message": msg})
	_, err := d.dyn.Resource(InstallPlans).Namespace(p.GetNamespace()).UpdateStatus(ctx, p, metav1.UpdateOptions{})
	if err == nil {
		d.log.Info("InstallPlan finished", "installPlan", p.GetNamespace()+"/"+p.GetName(), "phase", phase)
	}
	return err
}

var crdResource = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}

// install creates a bundle's CRDs, its CSV (Pending) and its ServiceAccounts; the CSV's own sync
// creates the Deployment.
func (d *Double) install(ctx context.Context, ns string, b Bundle, w *world) error {
	for _, k := range b.Owned {
		crd := mtccrds.CRD(k, "v1")
		annotate(crd)
		if _, err := d.dyn.Resource(crdResource).Create(ctx, crd, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("failed to create CRD %s: %w", k.Name(), err)
		}
	}
	if err := mtccrds.Install(ctx, d.dyn, b.Owned); err != nil {
		return err
	}
	csvs := d.dyn.Resource(CSVs).Namespace(ns)
	csv, err := csvs.Get(ctx, b.CSV, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		replaces := ""
		for _, c := range w.csvs[ns] {
			if ob, ok := d.opts.Catalog.BundleByCSV(c.GetName()); ok && ob.Package == b.Package && ob.CSV != b.CSV && c.GetDeletionTimestamp() == nil {
				replaces = ob.CSV
			}
		}
		obj, err := d.csvObject(ns, b, replaces, w.ogs[ns])
		if err != nil {
			return err
		}
		csv, err = csvs.Create(ctx, obj, metav1.CreateOptions{})
		if err != nil {
			return fmt.Errorf("failed to create CSV %s/%s: %w", ns, b.CSV, err)
		}
		d.setPhase(csv, PhasePending, "RequirementsUnknown", "requirements not yet checked")
		if csv, err = csvs.UpdateStatus(ctx, csv, metav1.UpdateOptions{}); err != nil {
			return err
		}
		d.log.Info("created a CSV", "csv", ns+"/"+b.CSV, "replaces", replaces)
		if replaces != "" {
			if old, err := csvs.Get(ctx, replaces, metav1.GetOptions{}); err == nil {
				d.setPhase(old, PhaseReplacing, "BeingReplaced", "being replaced by csv: "+b.CSV)
				_, _ = csvs.UpdateStatus(ctx, old, metav1.UpdateOptions{})
			}
		}
	} else if err != nil {
		return err
	}
	for _, name := range b.ServiceAccounts {
		sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns,
			Annotations:     map[string]string{DoubleAnnotation: doubleName},
			OwnerReferences: []metav1.OwnerReference{csvOwner(csv)}}}
		_, err := d.kube.CoreV1().ServiceAccounts(ns).Create(ctx, sa, metav1.CreateOptions{})
		if apierrors.IsAlreadyExists(err) {
			cur, gerr := d.kube.CoreV1().ServiceAccounts(ns).Get(ctx, name, metav1.GetOptions{})
			if gerr == nil && !ownedBy(cur.OwnerReferences, csv.GetUID()) && ownedByCSV(cur.OwnerReferences) {
				cur.OwnerReferences = []metav1.OwnerReference{csvOwner(csv)}
				_, err = d.kube.CoreV1().ServiceAccounts(ns).Update(ctx, cur, metav1.UpdateOptions{})
			} else {
				err = gerr
			}
		}
		if err != nil {
			return fmt.Errorf("failed to create ServiceAccount %s/%s: %w", ns, name, err)
		}
	}
	return d.grantClusterPermissions(ctx, ns, b)
}

// grantClusterPermissions creates the ClusterRole and ClusterRoleBinding of each of the CSV's
// clusterPermissions. Cluster-scoped objects cannot be owned by a namespaced CSV, so OLM labels
// them with it and removes them when the CSV goes (collectClusterPermissions).
func (d *Double) grantClusterPermissions(ctx context.Context, ns string, b Bundle) error {
	for sa, rules := range b.ClusterRules {
		name := b.CSV + "-" + sa
		meta := metav1.ObjectMeta{Name: name, Annotations: map[string]string{DoubleAnnotation: doubleName},
			Labels: map[string]string{"olm.owner": b.CSV, "olm.owner.namespace": ns, "olm.owner.kind": "ClusterServiceVersion"}}
		role := &rbacv1.ClusterRole{ObjectMeta: meta, Rules: rules}
		if _, err := d.kube.RbacV1().ClusterRoles().Create(ctx, role, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("failed to create ClusterRole %s: %w", name, err)
		}
		binding := &rbacv1.ClusterRoleBinding{ObjectMeta: meta,
			RoleRef:  rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: name},
			Subjects: []rbacv1.Subject{{Kind: "ServiceAccount", Name: sa, Namespace: ns}}}
		if _, err := d.kube.RbacV1().ClusterRoleBindings().Create(ctx, binding, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("failed to create ClusterRoleBinding %s: %w", name, err)
		}
	}
	return nil
}

// collectClusterPermissions deletes the cluster roles and bindings whose CSV is gone.
func (d *Double) collectClusterPermissions(ctx context.Context, csvs map[string][]unstructured.Unstructured) {
	exists := map[string]bool{}
	for ns, list := range csvs {
		for _, c := range list {
			exists[ns+"/"+c.GetName()] = true
		}
	}
	sel := metav1.ListOptions{LabelSelector: "olm.owner.kind=ClusterServiceVersion"}
	gone := func(m metav1.ObjectMeta) bool {
		return m.Annotations[DoubleAnnotation] == doubleName && !exists[m.Labels["olm.owner.namespace"]+"/"+m.Labels["olm.owner"]]
	}
	if roles, err := d.kube.RbacV1().ClusterRoles().List(ctx, sel); err == nil {
		for _, r := range roles.Items {
			if gone(r.ObjectMeta) {
				_ = d.kube.RbacV1().ClusterRoles().Delete(ctx, r.Name, metav1.DeleteOptions{})
			}
		}
	}
	if bindings, err := d.kube.RbacV1().ClusterRoleBindings().List(ctx, sel); err == nil {
		for _, b := range bindings.Items {
			if gone(b.ObjectMeta) {
				_ = d.kube.RbacV1().ClusterRoleBindings().Delete(ctx, b.Name, metav1.DeleteOptions{})
			}
		}
	}
}

func csvOwner(csv *unstructured.Unstructured) metav1.OwnerReference {
	f := false
	return metav1.OwnerReference{APIVersion: "operators.coreos.com/v1alpha1", Kind: "ClusterServiceVersion",
		Name: csv.GetName(), UID: csv.GetUID(), Controller: &f, BlockOwnerDeletion: &f}
}

func ownedBy(refs []metav1.OwnerReference, uid any) bool {
	for _, r := range refs {
		if any(r.UID) == uid {
			return true
		}
	}
	return false
}

func ownedByCSV(refs []metav1.OwnerReference) bool {
	for _, r := range refs {
		if r.Kind == "ClusterServiceVersion" {
			return true
		}
	}
	return false
}

// deploymentSpec is the operator Deployment of a bundle.
func deploymentSpec(b Bundle) appsv1.DeploymentSpec {
	one := int32(1)
	f, t := false, true
	labels := map[string]string{"name": b.Deployment}
	if b.Package == MTCPackage {
		labels = map[string]string{"app": "migration"}
	}
	env := []corev1.EnvVar{
		{Name: "OPERATOR_NAME", Value: b.Deployment},
		{Name: "WATCH_NAMESPACE", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.annotations['olm.targetNamespaces']"}}},
	}
	return appsv1.DeploymentSpec{
		Replicas: &one,
		Selector: &metav1.LabelSelector{MatchLabels: labels},
		Template: corev1.PodTemplateSpec{
			ObjectMeta: metav1.ObjectMeta{Labels: labels},
			Spec: corev1.PodSpec{
				ServiceAccountName: b.ServiceAccounts[0],
				SecurityContext:    &corev1.PodSecurityContext{RunAsNonRoot: &t, SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}},
				Containers: []corev1.Container{{
					Name: "operator", Image: b.Image, ImagePullPolicy: corev1.PullIfNotPresent, Env: env,
					SecurityContext: &corev1.SecurityContext{AllowPrivilegeEscalation: &f, Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}}},
				}},
			},
		},
	}
}

func (d *Double) csvObject(ns string, b Bundle, replaces string, ogs []unstructured.Unstructured) (*unstructured.Unstructured, error) {
	spec := deploymentSpec(b)
	depSpec, err := runtime.DefaultUnstructuredConverter.ToUnstructured(&spec)
	if err != nil {
		return nil, err
	}
	unstructured.RemoveNestedField(depSpec, "template", "metadata", "creationTimestamp")
	var owned []any
	for _, k := range b.Owned {
		owned = append(owned, map[string]any{"name": k.Name(), "version": k.Version, "kind": k.Kind})
	}
	var perms []any
	for _, sa := range b.ServiceAccounts {
		perms = append(perms, map[string]any{"serviceAccountName": sa, "rules": []any{}})
	}
	ann := map[string]any{DoubleAnnotation: doubleName, "olm.operatorNamespace": ns, "olm.targetNamespaces": ns}
	if len(ogs) == 1 {
		ann["olm.operatorGroup"] = ogs[0].GetName()
	}
	spec2 := map[string]any{
		"displayName": b.DisplayName, "version": b.Version,
		"installModes": []any{
			map[string]any{"type": "OwnNamespace", "supported": true},
			map[string]any{"type": "SingleNamespace", "supported": false},
			map[string]any{"type": "MultiNamespace", "supported": false},
			map[string]any{"type": "AllNamespaces", "supported": false},
		},
		"customresourcedefinitions": map[string]any{"owned": owned},
		"install": map[string]any{"strategy": "deployment", "spec": map[string]any{
			"deployments": []any{map[string]any{"name": b.Deployment, "spec": depSpec}},
			"permissions": perms,
		}},
	}
	if replaces != "" {
		spec2["replaces"] = replaces
	}
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "operators.coreos.com/v1alpha1", "kind": "ClusterServiceVersion",
		"metadata": map[string]any{"name": b.CSV, "namespace": ns, "annotations": ann,
			"labels": map[string]any{"operators.coreos.com/" + b.Package + "." + ns: ""}},
		"spec": spec2,
	}}, nil
}

// setPhase moves a CSV's status to phase, recording the transition in status.conditions as OLM does.
func (d *Double) setPhase(csv *unstructured.Unstructured, phase, reason, msg string) {
	t := now()
	st, _ := csv.Object["status"].(map[string]any)
	if st == nil {
		st = map[string]any{}
		csv.Object["status"] = st
	}
	conds, _ := st["conditions"].([]any)
	conds = append(conds, map[string]any{"phase": phase, "reason": reason, "message": msg, "lastTransitionTime": t, "lastUpdateTime": t})
	st["conditions"] = conds
	st["phase"], st["reason"], st["message"] = phase, reason, msg
	st["lastTransitionTime"], st["lastUpdateTime"] = t, t
}

// operatorGroupProblem says why the CSV cannot install with the namespace's OperatorGroups.
func operatorGroupProblem(ns string, ogs []unstructured.Unstructured) (reason, msg string) {
	var live []unstructured.Unstructured
	for _, og := range ogs {
		if og.GetDeletionTimestamp() == nil {
			live = append(live, og)
		}
	}
	switch len(live) {
	case 0:
		return "NoOperatorGroup", "csv created in namespace with no operatorgroups"
	case 1:
	default:
		return "TooManyOperatorGroups", "csv created in namespace with multiple operatorgroups, can't pick one automatically"
	}
	targets, _, _ := unstructured.NestedStringSlice(live[0].Object, "spec", "targetNamespaces")
	_, hasSelector, _ := unstructured.NestedMap(live[0].Object, "spec", "selector")
	mode := "AllNamespaces"
	switch {
	case len(targets) == 1 && targets[0] == ns:
		mode = "OwnNamespace"
	case len(targets) == 1:
		mode = "SingleNamespace"
	case len(targets) > 1 || hasSelector:
		mode = "MultiNamespace"
	}
	if mode != "OwnNamespace" {
		return "UnsupportedOperatorGroup", fmt.Sprintf("%s InstallModeType not supported, cannot configure to watch %s", mode, strings.Join(orAll(targets), ","))
	}
	return "", ""
}

func orAll(t []string) []string {
	if len(t) == 0 {
		return []string{"all namespaces"}
	}
	return t
}

// syncCSV moves a CSV through its phases.
func (d *Double) syncCSV(ctx context.Context, ns string, csv *unstructured.Unstructured, ogs []unstructured.Unstructured) error {
	if csv.GetDeletionTimestamp() != nil {
		return nil
	}
	csvs := d.dyn.Resource(CSVs).Namespace(ns)
	phase, _, _ := unstructured.NestedString(csv.Object, "status", "phase")
	reason, _, _ := unstructured.NestedString(csv.Object, "status", "reason")
	replaces, _, _ := unstructured.NestedString(csv.Object, "spec", "replaces")
	write := func(phase, reason, msg string) error {
		d.setPhase(csv, phase, reason, msg)
		_, err := csvs.UpdateStatus(ctx, csv, metav1.UpdateOptions{})
		if err == nil {
			d.log.Info("CSV phase", "csv", ns+"/"+csv.GetName(), "phase", phase, "reason", reason)
		}
		return err
	}
	switch phase {
	case "", PhasePending:
		if r, m := operatorGroupProblem(ns, ogs); r != "" {
			return write(PhaseFailed, r, m)
		}
		return write(PhaseInstallReady, "AllRequirementsMet", "all requirements found, attempting install")
	case PhaseFailed:
		if strings.HasSuffix(reason, "OperatorGroup") || strings.HasSuffix(reason, "OperatorGroups") {
			switch r, m := operatorGroupProblem(ns, ogs); r {
			case "":
				return write(PhasePending, "RequirementsUnknown", "the operator group changed; checking the requirements again")
			case reason:
			default:
				return write(PhaseFailed, r, m)
			}
		}
		return nil
	case PhaseInstallReady:
		if _, err := d.ensureDeployment(ctx, ns, csv); err != nil {
			return err
		}
		return write(PhaseInstalling, "InstallWaiting", "installing: waiting for deployment to become ready")
	case PhaseInstalling, PhaseSucceeded:
		dep, err := d.ensureDeployment(ctx, ns, csv)
		if err != nil {
			return err
		}
		ready := available(dep)
		switch {
		case phase == PhaseInstalling && ready:
			if err := write(PhaseSucceeded, "InstallSucceeded", "install strategy completed with no errors"); err != nil {
				return err
			}
		case phase == PhaseSucceeded && !ready:
			return write(PhaseInstalling, "ComponentUnhealthy", "installing: deployment "+dep.Name+" is not available")
		}
		if replaces != "" && (ready || phase == PhaseSucceeded) {
			err := csvs.Delete(ctx, replaces, metav1.DeleteOptions{})
			if err == nil {
				d.log.Info("deleted the replaced CSV", "csv", ns+"/"+replaces)
			} else if !apierrors.IsNotFound(err) {
				return err
			}
		}
	}
	return nil
}

func available(d *appsv1.Deployment) bool {
	if d == nil || d.Status.ObservedGeneration < d.Generation || d.Status.AvailableReplicas < 1 {
		return false
	}
	for _, c := range d.Status.Conditions {
		if c.Type == appsv1.DeploymentAvailable && c.Status == corev1.ConditionTrue {
			return true
		}
	}
	return false
}

// ensureDeployment creates the CSV's Deployment, or takes it over from the CSV it replaces.
func (d *Double) ensureDeployment(ctx context.Context, ns string, csv *unstructured.Unstructured) (*appsv1.Deployment, error) {
	deps, _, _ := unstructured.NestedSlice(csv.Object, "spec", "install", "spec", "deployments")
	if len(deps) == 0 {
		return nil, fmt.Errorf("CSV %s/%s names no deployment", ns, csv.GetName())
	}
	m, _ := deps[0].(map[string]any)
	name, _ := m["name"].(string)
	rawSpec, _ := m["spec"].(map[string]any)
	var spec appsv1.DeploymentSpec
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(rawSpec, &spec); err != nil {
		return nil, fmt.Errorf("CSV %s/%s has a bad deployment spec: %w", ns, csv.GetName(), err)
	}
	labels := map[string]string{"olm.owner": csv.GetName(), "olm.owner.kind": "ClusterServiceVersion", "olm.owner.namespace": ns}
	for k, v := range spec.Template.Labels {
		labels[k] = v
	}
	if spec.Template.Annotations == nil {
		spec.Template.Annotations = map[string]string{}
	}
	spec.Template.Annotations["olm.targetNamespaces"] = ns
	spec.Template.Annotations["olm.operatorNamespace"] = ns
	apps := d.kube.AppsV1().Deployments(ns)
	cur, err := apps.Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		dep := &appsv1.Deployment{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: labels,
				Annotations:     map[string]string{DoubleAnnotation: doubleName},
				OwnerReferences: []metav1.OwnerReference{csvOwner(csv)}},
			Spec: spec,
		}
		created, err := apps.Create(ctx, dep, metav1.CreateOptions{})
		if err == nil {
			d.log.Info("created the operator Deployment", "deployment", ns+"/"+name, "csv", csv.GetName())
		}
		return created, err
	}
	if err != nil {
		return nil, err
	}
	if ownedBy(cur.OwnerReferences, csv.GetUID()) {
		return cur, nil
	}
	if !ownedByCSV(cur.OwnerReferences) {
		return cur, fmt.Errorf("deployment %s/%s exists and no CSV owns it; OLM will not adopt it", ns, name)
	}
	// The Deployment of the CSV this one replaces: take it over.
	cur.OwnerReferences = []metav1.OwnerReference{csvOwner(csv)}
	cur.Labels = labels
	cur.Spec.Template = spec.Template
	if cur.Annotations == nil {
		cur.Annotations = map[string]string{}
	}
	cur.Annotations[DoubleAnnotation] = doubleName
	updated, err := apps.Update(ctx, cur, metav1.UpdateOptions{})
	if err == nil {
		d.log.Info("took the operator Deployment over", "deployment", ns+"/"+name, "csv", csv.GetName())
	}
	return updated, err
}
