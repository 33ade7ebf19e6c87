package cleanup

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"

	"github.com/mtc-helm/mtc-helm/hooks/kube"
)

var (
	serviceAccounts = schema.GroupVersionResource{Version: "v1", Resource: "serviceaccounts"}
	roles           = schema.GroupVersionResource{Group: "rbac.authorization.k8s.io", Version: "v1", Resource: "roles"}
	roleBindings    = schema.GroupVersionResource{Group: "rbac.authorization.k8s.io", Version: "v1", Resource: "rolebindings"}
)

// 5. The operator: OLM Subscription and CSV (and OADP's, when MTC brought it and nothing else uses it), or
// the objects of the legacy operator.yml.
func (c *run) deleteOperator(ctx context.Context, ns string) (*Step, error) {
	s := &Step{Name: "remove the operator (OLM Subscription and CSV, OADP when only MTC used it, or the legacy operator)"}
	var targets []target

	subs, err := c.list(ctx, kube.Subscriptions, ns)
	if err != nil {
		return s, err
	}
	var oadpSubs []target
	mtcSub := false
	for i := range subs {
		pkg, _, _ := unstructured.NestedString(subs[i].Object, "spec", "name")
		switch {
		case pkg == kube.OperatorPackage:
			mtcSub = true
			targets = append(targets, targetOf(kube.Subscriptions, "Subscription", &subs[i]))
		case slices.Contains(kube.OADPPackages, pkg):
			oadpSubs = append(oadpSubs, targetOf(kube.Subscriptions, "Subscription", &subs[i]))
		}
	}
	csvs, err := c.listMeta(ctx, kube.CSVs, ns)
	if err != nil {
		return s, err
	}
	var oadpCSVs []target
	for i := range csvs {
		name := csvs[i].GetName()
		switch {
		case strings.HasPrefix(name, kube.CSVPrefix):
			targets = append(targets, targetOf(kube.CSVs, "ClusterServiceVersion", &csvs[i]))
		case kube.IsOADPCSV(name):
			oadpCSVs = append(oadpCSVs, targetOf(kube.CSVs, "ClusterServiceVersion", &csvs[i]))
		}
	}
	if len(oadpSubs)+len(oadpCSVs) > 0 {
		// OADP runs for its own namespace only (OwnNamespace): what uses this OADP is in ns. A Velero or
		// an OADP elsewhere keeps the shared CRDs (step 6), not this operator.
		users, err := c.oadpUsersIn(ctx, ns)
		if err != nil {
			return s, err
		}
		switch {
		case len(users) == 0:
			targets = append(targets, oadpSubs...)
			targets = append(targets, oadpCSVs...)
		case c.DeleteShared:
			targets = append(targets, oadpSubs...)
			targets = append(targets, oadpCSVs...)
			s.Notes = append(s.Notes, "removed OADP although "+strings.Join(users, ", ")+" still use it (--delete-shared)")
		default:
			for _, t := range append(oadpSubs, oadpCSVs...) {
				s.Kept = append(s.Kept, t.String()+": OADP is still used by "+strings.Join(users, ", "))
			}
		}
	}

	// The legacy operator.yml objects in the namespace (Helm removes them when the chart installed them).
	for _, o := range []struct {
		gvr  schema.GroupVersionResource
		kind string
	}{{kube.Deployments, "Deployment"}, {roleBindings, "RoleBinding"}, {roles, "Role"}, {serviceAccounts, "ServiceAccount"}} {
		u, err := c.get(ctx, o.gvr, ns, kube.LegacyOperator)
		if err != nil {
			return s, err
		}
		if u == nil || helmOwned(u) || (o.kind == "Deployment" && kube.OLMOwned(u)) || (o.kind != "Deployment" && ownedByAnyone(u)) {
			continue
		}
		t := targetOf(o.gvr, o.kind, u)
		t.ByName = true
		targets = append(targets, t)
	}
	if err := c.waitInstallPlans(ctx, ns, targets, mtcSub); err != nil {
		return s, err
	}
	var csvUIDs []types.UID
	var csvNames []string
	for _, t := range targets {
		if t.Kind == "ClusterServiceVersion" {
			csvUIDs = append(csvUIDs, t.UID)
			csvNames = append(csvNames, t.Name)
		}
	}
	// OLM re-creates a Subscription's missing currentCSV while the Subscription exists, so the
	// Subscriptions go first, and the CSVs (whose csv-cleanup finalizer OLM then runs) after.
	var subTargets, rest []target
	for _, t := range targets {
		if t.Kind == "Subscription" {
			subTargets = append(subTargets, t)
		} else {
			rest = append(rest, t)
		}
	}
	if err := c.deleteAndWait(ctx, ns, s, "the operator's Subscriptions", subTargets); err != nil {
		return s, err
	}
	if err := c.deleteAndWait(ctx, ns, s, "the operator objects", rest); err != nil {
		return s, err
	}
	if err := c.sweepRecreatedCSVs(ctx, ns, s, csvNames); err != nil {
		return s, err
	}
	if err := c.deleteDependents(ctx, ns, s, csvUIDs); err != nil {
		return s, err
	}
	if err := c.deleteOADPBundleRoles(ctx, ns, s, csvNames); err != nil {
		return s, err
	}
	return s, c.deleteOperatorGroups(ctx, ns, s)
}

// DefaultOLMQuiet is how long, after the operator's CSVs are gone, no InstallPlan for them and no CSV
// of theirs may show up before the cleanup goes on: a stale resolution makes its InstallPlan within
// a second or two of the Subscriptions' deletion.
const DefaultOLMQuiet = 5 * time.Second

// sweepRecreatedCSVs catches what a resolution OLM started from a stale cache makes after the
// Subscriptions and CSVs went: a new InstallPlan for the deleted CSVs (owned by Subscriptions that no
// longer exist), which the catalog operator may execute before garbage collection takes it, making
// the CSV and its bundle's ClusterRoles again. Until OLMQuiet has passed without either, it deletes
// such InstallPlans and CSVs again.
func (c *run) sweepRecreatedCSVs(ctx context.Context, ns string, s *Step, csvNames []string) error {
	if c.DryRun || len(csvNames) == 0 {
		return nil
	}
	ours := map[string]bool{}
	for _, n := range csvNames {
		ours[n] = true
	}
	return c.untilQuiet(ctx, s, "the removed operator in "+ns, func(ctx context.Context) ([]target, error) {
		var again []target
		plans, err := c.list(ctx, kube.InstallPlans, ns)
		if err != nil {
			return nil, err
		}
		for i := range plans {
			names, _, _ := unstructured.NestedStringSlice(plans[i].Object, "spec", "clusterServiceVersionNames")
			if slices.ContainsFunc(names, func(n string) bool { return ours[n] }) && plans[i].GetDeletionTimestamp() == nil {
				again = append(again, targetOf(kube.InstallPlans, "InstallPlan", &plans[i]))
			}
		}
		csvs, err := c.listMeta(ctx, kube.CSVs, ns)
		if err != nil {
			return nil, err
		}
		for i := range csvs {
			if ours[csvs[i].GetName()] && csvs[i].GetDeletionTimestamp() == nil {
				again = append(again, targetOf(kube.CSVs, "ClusterServiceVersion", &csvs[i]))
			}
		}
		return again, nil
	})
}

// quietWatch is a quiet window the run still owes: find returns what OLM made again.
type quietWatch struct {
	s     *Step
	what  string
	find  func(context.Context) ([]target, error)
	since time.Time
	noted map[string]bool
}

// quietLater registers a window for objects nothing else depends on (ClusterRoles OLM makes for a CSV
// or a CRD): the windows run together at the end (settleQuiet), each from the delete it follows, so
// they overlap instead of adding up.
func (c *run) quietLater(s *Step, what string, find func(context.Context) ([]target, error)) {
	c.quiet = append(c.quiet, &quietWatch{s: s, what: what, find: find, since: time.Now(), noted: map[string]bool{}})
}

// settleQuiet runs the registered windows until each has seen nothing made again for OLMQuiet.
func (c *run) settleQuiet(ctx context.Context) error {
	if len(c.quiet) == 0 {
		return nil
	}
	window := cmp.Or(c.OLMQuiet, DefaultOLMQuiet)
	var whats []string
	for _, q := range c.quiet {
		whats = append(whats, q.what)
	}
	return c.Waiter.Until(ctx, "OLM to stop making "+strings.Join(whats, " and ")+" again",
		"look at the OLM operators' logs in openshift-operator-lifecycle-manager",
		func(ctx context.Context) (bool, string, error) {
			done := true
			for _, q := range c.quiet {
				again, err := q.find(ctx)
				if err != nil {
					return false, "", err
				}
				if err := c.deleteAgain(ctx, q.s, q.noted, again); err != nil {
					return false, "", err
				}
				if len(again) > 0 {
					q.since = time.Now()
				}
				if time.Since(q.since) < window {
					done = false
				}
			}
			return done, "", nil
		})
}

// deleteAgain deletes what OLM made again and notes each object once in s.
func (c *run) deleteAgain(ctx context.Context, s *Step, noted map[string]bool, again []target) error {
	if len(again) == 0 {
		return nil
	}
	for _, t := range again {
		c.Logger().Info("deleting again what OLM made after its delete", "object", t.String())
		if !noted[t.String()] {
			noted[t.String()] = true
			s.Notes = append(s.Notes, t.String()+": OLM made it again after it was deleted; deleted again")
		}
	}
	return c.deleteTargets(ctx, again)
}

// untilQuiet deletes again what find returns (objects OLM makes again from work it started before
// the cleanup deleted them: a stale resolution's InstallPlan, a CSV sync still queued) until find has
// returned nothing for OLMQuiet; each object deleted again is noted in the step.
func (c *run) untilQuiet(ctx context.Context, s *Step, what string, find func(context.Context) ([]target, error)) error {
	window := cmp.Or(c.OLMQuiet, DefaultOLMQuiet)
	quietSince := time.Now()
	noted := map[string]bool{}
	return c.Waiter.Until(ctx, "OLM to stop making "+what+" again",
		"look at the InstallPlans and CSVs of the namespace and at the OLM operators' logs in openshift-operator-lifecycle-manager",
		func(ctx context.Context) (bool, string, error) {
			again, err := find(ctx)
			if err != nil {
				return false, "", err
			}
			if err := c.deleteAgain(ctx, s, noted, again); err != nil {
				return false, "", err
			}
			if len(again) > 0 {
				quietSince = time.Now()
			}
			if quiet := time.Since(quietSince); quiet < window {
				return false, fmt.Sprintf("nothing made again for %s of %s", quiet.Round(time.Second), window), nil
			}
			return true, "", nil
		})
}

// deleteOperatorGroups removes, when the cleanup runs on its own (no --release: an MTC installed by hand
// being removed before helm install takes over), the OperatorGroup the manual install made, once no
// Subscription or CSV is left in the namespace for it to serve. Left in place it would stop the chart's
// own OperatorGroup (OLM allows one per namespace, Helm refuses to adopt one it did not make). A Helm
// release's OperatorGroup is its own to delete; one that still serves an operator stays, named.
func (c *run) deleteOperatorGroups(ctx context.Context, ns string, s *Step) error {
	if c.Release != "" {
		return nil
	}
	ogs, err := c.list(ctx, kube.OperatorGroups, ns)
	if apierrors.IsForbidden(err) {
		// Not this identity's to read (the chart's hook ServiceAccount has no such rule: the hook
		// always runs with --release). Say so instead of failing after the operator is gone.
		s.Kept = append(s.Kept, "the OperatorGroups of "+ns+": this identity may not list them; delete a hand-made one yourself before helm install (oc delete operatorgroup -n "+ns+" <name>)")
		return nil
	}
	if err != nil || len(ogs) == 0 {
		return err
	}
	var own []target
	for i := range ogs {
		if !helmOwned(&ogs[i]) {
			own = append(own, targetOf(kube.OperatorGroups, "OperatorGroup", &ogs[i]))
		}
	}
	if len(own) == 0 {
		return nil
	}
	var users []string
	for _, k := range []struct {
		gvr  schema.GroupVersionResource
		kind string
	}{{kube.Subscriptions, "Subscription"}, {kube.CSVs, "ClusterServiceVersion"}} {
		items, err := c.list(ctx, k.gvr, ns)
		if err != nil {
			return err
		}
		for i := range items {
			if items[i].GetDeletionTimestamp() == nil {
				users = append(users, k.kind+" "+items[i].GetName())
			}
		}
	}
	if len(users) > 0 {
		for _, t := range own {
			s.Kept = append(s.Kept, t.String()+": it still serves "+strings.Join(users, ", "))
		}
		return nil
	}
	return c.deleteAndWait(ctx, ns, s, "the OperatorGroup", own)
}

// waitInstallPlans waits until no InstallPlan of the namespace is being planned or executed before
// the Subscriptions and CSVs go. OLM can report the CSV Succeeded while the catalog operator still
// executes the InstallPlan's later steps (bundle ClusterRoles, bindings, ServiceAccount owners);
// deleting under it leaves those objects behind, created after the cleanup looked. An InstallPlan
// awaiting Manual approval executes nothing and is not waited for.
//
// mtcSub says whether MTC's Subscription is still there. Without it, the InstallPlan that installed MTC
// went with it (its owner) by garbage collection, as after helm uninstall --no-hooks, while the catalog
// operator may still be in the middle of a pass over it: the CSVs' last change (OLM's olm operator
// fails a CSV with reason NoOperatorGroup once its OperatorGroup is gone, operator.go in v0.38.0) then
// stands for when OLM last acted. In the
// post-delete hook the pre-delete hook has waited for the plan while the Subscription was there; what
// remains is a resolution the catalog operator started from a cache that still held the Subscription,
// which would make the CSVs deleted here again with their RBAC: that wait is OLMQuiet from the CSVs'
// last change.
func (c *run) waitInstallPlans(ctx context.Context, ns string, targets []target, mtcSub bool) error {
	if c.DryRun || !slices.ContainsFunc(targets, func(t target) bool { return t.Kind == "Subscription" || t.Kind == "ClusterServiceVersion" }) {
		return nil
	}
	settle := c.OLMSettle
	if settle == 0 {
		settle = DefaultOLMSettle
	}
	return c.Waiter.Until(ctx, "OLM to finish the InstallPlans in "+ns,
		"look at the InstallPlans' status (oc get installplans -n "+ns+" -o yaml) and at the catalog operator's log in openshift-operator-lifecycle-manager",
		func(ctx context.Context) (bool, string, error) {
			plans, err := c.list(ctx, kube.InstallPlans, ns)
			if err != nil {
				return false, "", err
			}
			var busy []string
			var last time.Time // when OLM last finished something here
			wait := settle
			for i := range plans {
				phase, _, _ := unstructured.NestedString(plans[i].Object, "status", "phase")
				if (phase == "" || phase == "Planning" || phase == "Installing") && plans[i].GetDeletionTimestamp() == nil {
					busy = append(busy, "InstallPlan "+plans[i].GetName()+" is "+cmp.Or(phase, "new"))
				}
				if phase == "Complete" {
					done := statusWritten(&plans[i])
					last = later(last, done)
					// The last pass lasts about as long as the plan's passes did on this cluster:
					// from the start OLM recorded (the start of its first pass whose status it could
					// write) to the completion. A busy API server makes them all slower alike.
					// At most three times the settle time: a plan that took long because a step kept
					// failing says nothing of one pass, and the wait must fit the hook's timeout.
					if st := startTime(&plans[i]); !st.IsZero() && done.After(st) {
						wait = max(wait, min(done.Sub(st)*3/2, 3*settle))
					}
				}
			}
			// With MTC's Subscription there and no InstallPlan, there is no plan for a stale pass to
			// run again: the settle only follows what OLM executed. Without the Subscription, its
			// plan may have gone with it in the middle of a pass.
			var csvs []unstructured.Unstructured
			resolving := !mtcSub && len(plans) == 0 && c.Phase == PhasePostDelete
			if resolving {
				wait = cmp.Or(c.OLMQuiet, DefaultOLMQuiet)
			}
			if len(plans) > 0 || !mtcSub {
				csvs, err = c.list(ctx, kube.CSVs, ns)
				if err != nil {
					return false, "", err
				}
			}
			for i := range csvs {
				if t, _, _ := unstructured.NestedString(csvs[i].Object, "status", "lastTransitionTime"); t != "" {
					if p, err := time.Parse(time.RFC3339, t); err == nil {
						last = later(last, p)
					}
				}
			}
			if resolving && !last.IsZero() && time.Since(last) < wait {
				return false, fmt.Sprintf("OLM changed a CSV here %s ago; its catalog operator may still resolve the namespace from a cache that holds the deleted Subscription, for up to %s",
					time.Since(last).Round(time.Second), wait.Round(time.Second)), nil
			}
			if len(busy) == 0 && !last.IsZero() && time.Since(last) < wait {
				// A sync of the catalog operator that started from a stale cache runs a whole pass of
				// the plan again, making its objects after they were deleted; such a pass ends within
				// the settle time after OLM finished.
				busy = append(busy, fmt.Sprintf("OLM finished %s ago; its catalog operator may still run a last pass of the plan for up to %s",
					time.Since(last).Round(time.Second), wait.Round(time.Second)))
			}
			return len(busy) == 0, strings.Join(busy, ", "), nil
		})
}

// DefaultOLMSettle is the least time given to the last pass OLM's catalog operator may run over an
// InstallPlan it has finished: a pass over the MTC and OADP bundles takes about 20 s, OLM's client
// being limited to 5 requests a second. Where the plan's own passes took longer, the wait is half
// as long again as they took.
const DefaultOLMSettle = 30 * time.Second

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// startTime is an InstallPlan's status.startTime, or the zero time.
func startTime(u *unstructured.Unstructured) time.Time {
	s, _, _ := unstructured.NestedString(u.Object, "status", "startTime")
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}
	}
	return t
}

// statusWritten is when OLM wrote an InstallPlan's status last: the time of the newest managedFields
// entry for the status subresource. The Installed condition's lastTransitionTime is not that: OLM's
// catalog operator takes the time before it executes a pass and stamps the condition with it after,
// so on a slow cluster the condition says the plan finished a whole pass (tens of seconds) earlier
// than it did. Without managedFields, the condition's time.
func statusWritten(u *unstructured.Unstructured) time.Time {
	var t time.Time
	for _, m := range u.GetManagedFields() {
		if m.Subresource == "status" && m.Time != nil {
			t = later(t, m.Time.Time)
		}
	}
	if t.IsZero() {
		return conditionTime(u, "Installed")
	}
	return t
}

// conditionTime is the lastTransitionTime of the condition of that type, or the zero time.
func conditionTime(u *unstructured.Unstructured, typ string) time.Time {
	conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	for _, c := range conds {
		m, _ := c.(map[string]any)
		if m["type"] != typ {
			continue
		}
		s, _ := m["lastTransitionTime"].(string)
		t, err := time.Parse(time.RFC3339, s)
		if err == nil {
			return t
		}
	}
	return time.Time{}
}

// deleteOADPBundleRoles removes, when an OADP CSV this cleanup removed (csvs) was the last OADP of the
// cluster, the ClusterRoles OADP's bundle ships (only while they still carry OLM's olm.managed label
// and no owner). The RBAC of the CSVs' clusterPermissions is OLM's csv-cleanup finalizer's to delete;
// step 7 names any of it still there.
func (c *run) deleteOADPBundleRoles(ctx context.Context, ns string, s *Step, csvs []string) error {
	var targets []target
	oadpGone := slices.ContainsFunc(csvs, func(n string) bool {
		return kube.IsOADPCSV(n)
	})
	if oadpGone && !c.DryRun {
		all, err := c.listMeta(ctx, kube.CSVs, "")
		if err != nil {
			return err
		}
		var others []string
		for i := range all {
			n := all[i].GetName()
			if kube.IsOADPCSV(n) && all[i].GetDeletionTimestamp() == nil {
				others = append(others, all[i].GetNamespace()+"/"+n)
			}
		}
		for _, name := range kube.OADPBundleClusterRoles {
			u, err := c.get(ctx, kube.ClusterRoles, "", name)
			if err != nil {
				return err
			}
			if u == nil || u.GetLabels()["olm.managed"] != "true" || ownedByAnyone(u) || helmOwned(u) {
				continue
			}
			if len(others) > 0 {
				s.Kept = append(s.Kept, "ClusterRole "+name+": OADP's bundle role, still used by "+strings.Join(others, ", "))
				continue
			}
			t := targetOf(kube.ClusterRoles, "ClusterRole", u)
			t.ByName = true
			targets = append(targets, t)
		}
	}
	if err := c.deleteAndWait(ctx, ns, s, "OADP's bundle ClusterRoles", targets); err != nil || len(targets) == 0 {
		return err
	}
	// The catalog operator makes them when it executes an InstallPlan step; one it was still executing
	// can make them again.
	c.quietLater(s, "OADP's bundle ClusterRoles", func(ctx context.Context) ([]target, error) {
		return c.rolesBack(ctx, nameOf(targets), func(u *unstructured.Unstructured) bool { return !ownedByAnyone(u) && !helmOwned(u) })
	})
	return nil
}

// rolesBack returns the ClusterRoles of those names that exist, made by OLM (olm.managed) and passing
// mine, as targets to delete by name: the ones cleanup deletes, and those that came back after.
func (c *run) rolesBack(ctx context.Context, roleNames []string, mine func(*unstructured.Unstructured) bool) ([]target, error) {
	var again []target
	for _, name := range roleNames {
		u, err := c.get(ctx, kube.ClusterRoles, "", name)
		if err != nil {
			return nil, err
		}
		if u != nil && u.GetLabels()["olm.managed"] == "true" && u.GetDeletionTimestamp() == nil && mine(u) {
			rt := targetOf(kube.ClusterRoles, "ClusterRole", u)
			rt.ByName = true
			again = append(again, rt)
		}
	}
	return again, nil
}

// deleteOperatorObjects removes OLM's Operator objects <package>.<namespace> of MTC and OADP once
// no Subscription or CSV of that package is left in the namespace. OLM re-creates an Operator while
// objects labelled as its components exist (CRDs kept because someone still uses them), so it stays
// then.
func (c *run) deleteOperatorObjects(ctx context.Context, ns string, s *Step) error {
	subs, err := c.list(ctx, kube.Subscriptions, ns)
	if err != nil {
		return err
	}
	csvs, err := c.listMeta(ctx, kube.CSVs, ns)
	if err != nil {
		return err
	}
	_, crds, err := c.listCRDs(ctx)
	if err != nil {
		return err
	}
	var targets []target
	for _, pkg := range append([]string{kube.OperatorPackage}, kube.OADPPackages...) {
		name := pkg + "." + ns
		if slices.ContainsFunc(subs, func(u unstructured.Unstructured) bool {
			p, _, _ := unstructured.NestedString(u.Object, "spec", "name")
			return p == pkg
		}) {
			continue
		}
		if slices.ContainsFunc(csvs, func(u unstructured.Unstructured) bool {
			return u.GetLabels()["operators.coreos.com/"+name] != "" || strings.HasPrefix(u.GetName(), pkg+".")
		}) {
			continue
		}
		op, err := c.get(ctx, kube.Operators, "", name)
		if err != nil {
			return err
		}
		if op == nil {
			continue
		}
		if slices.ContainsFunc(crds, func(u unstructured.Unstructured) bool {
			_, ok := u.GetLabels()["operators.coreos.com/"+name]
			return ok && u.GetDeletionTimestamp() == nil
		}) {
			s.Kept = append(s.Kept, "Operator "+name+": CRDs it lists as its components stay, and OLM keeps it while they do")
			continue
		}
		t := targetOf(kube.Operators, "Operator", op)
		t.ByName = true
		targets = append(targets, t)
	}
	return c.deleteAndWait(ctx, ns, s, "OLM's Operator objects", targets)
}

// dependentKinds are what OLM creates for a CSV, and the MTC operator (or OADP) for the MigrationController
// and the DataProtectionApplication, in the namespace: Deployments and their ServiceAccounts.
var dependentKinds = []struct {
	gvr  schema.GroupVersionResource
	kind string
}{{kube.Deployments, "Deployment"}, {serviceAccounts, "ServiceAccount"}}

// deleteDependents removes what garbage collection should take with the deleted owners. The collector
// notices a new resource type only on its next resync, so on a young cluster the operator Deployments
// would linger; give it a few seconds, then delete what is left directly.
func (c *run) deleteDependents(ctx context.Context, ns string, s *Step, owners []types.UID) error {
	if len(owners) == 0 || c.DryRun {
		return nil
	}
	find := func(ctx context.Context) ([]target, error) {
		lists, err := c.listAll(ctx, []schema.GroupVersionResource{dependentKinds[0].gvr, dependentKinds[1].gvr}, ns)
		if err != nil {
			return nil, err
		}
		var out []target
		for j, items := range lists {
			for i := range items {
				for _, ref := range items[i].GetOwnerReferences() {
					if slices.Contains(owners, ref.UID) {
						out = append(out, targetOf(dependentKinds[j].gvr, dependentKinds[j].kind, &items[i]))
						break
					}
				}
			}
		}
		return out, nil
	}
	w := c.Waiter
	w.Timeout = c.GCGrace
	if w.Timeout <= 0 {
		w.Timeout = 10 * time.Second
	}
	var left []target
	var watches []kube.Watch
	for _, k := range dependentKinds {
		watches = append(watches, c.watchKind(k.gvr, ns))
	}
	err := w.UntilWatching(ctx, "garbage collection of the Deployments and ServiceAccounts of what was deleted", "", watches, func(ctx context.Context) (bool, string, error) {
		var err error
		left, err = find(ctx)
		return len(left) == 0, fmt.Sprintf("%d left", len(left)), err
	})
	if err == nil || ctx.Err() != nil {
		return err
	}
	var te *kube.TimeoutError
	if !errors.As(err, &te) {
		return err
	}
	s.Notes = append(s.Notes, "garbage collection had not removed "+strings.Join(names(left), ", ")+"; deleted directly")
	return c.deleteAndWait(ctx, ns, s, "the Deployments and ServiceAccounts left behind", left)
}

// oadpUsers lists what, besides MTC, uses OADP or Velero: DataProtectionApplications other than MTC's
// `velero` in the MTC namespace, and Velero backups, restores and schedules outside the MTC namespace.
func (c *run) oadpUsers(ctx context.Context, ns string) ([]string, error) {
	users, err := c.oadpUsersIn(ctx, ns)
	if err != nil {
		return nil, err
	}
	dpas, err := c.otherDPAs(ctx, ns)
	if err != nil {
		return nil, err
	}
	for _, d := range dpas {
		if !strings.HasPrefix(d, ns+"/") {
			users = append(users, "DataProtectionApplication "+d)
		}
	}
	// Outside it, any object of any Velero kind belongs to another Velero (one request per kind, all
	// at once).
	kindsOutside := kube.VeleroResources()
	counts := make([]int, len(kindsOutside))
	errs := make([]error, len(kindsOutside))
	var wg sync.WaitGroup
	for i, gvr := range kindsOutside {
		wg.Go(func() { counts[i], errs[i] = c.countOutside(ctx, gvr, ns) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	for i, gvr := range kindsOutside {
		if counts[i] > 0 {
			users = append(users, fmt.Sprintf("Velero %s outside %s", gvr.Resource, ns))
		}
	}
	// A Velero installed without OLM (its Helm chart, or velero install) in another namespace.
	for _, sel := range []string{"app.kubernetes.io/name=velero", "component=velero"} {
		deps, err := c.listSelected(ctx, kube.Deployments, "", sel)
		if err != nil {
			return nil, err
		}
		for i := range deps {
			if deps[i].GetNamespace() != ns {
				users = append(users, "a Velero Deployment "+deps[i].GetNamespace()+"/"+deps[i].GetName())
			}
		}
	}
	slices.Sort(users)
	return slices.Compact(users), nil
}

// otherDPAs lists, as namespace/name, the DataProtectionApplications of the cluster that are not MTC's
// (MTC's is in ns, owned by its MigrationController).
func (c *run) otherDPAs(ctx context.Context, ns string) ([]string, error) {
	dpas, err := c.list(ctx, kube.DataProtectionApps, "")
	if err != nil {
		return nil, err
	}
	var out []string
	for i := range dpas {
		if !mtcDPA(&dpas[i], ns) {
			out = append(out, dpas[i].GetNamespace()+"/"+dpas[i].GetName())
		}
	}
	return out, nil
}

// oadpUsersIn names what in ns uses the OADP installed there: a DataProtectionApplication that is not
// MTC's, and the user's own Velero Backups, Restores and Schedules.
func (c *run) oadpUsersIn(ctx context.Context, ns string) ([]string, error) {
	var users []string
	dpas, err := c.otherDPAs(ctx, ns)
	if err != nil {
		return nil, err
	}
	for _, d := range dpas {
		if strings.HasPrefix(d, ns+"/") {
			users = append(users, "DataProtectionApplication "+d)
		}
	}
	// Inside MTC's namespace, Velero itself makes objects for MTC's backups (repositories, volume
	// backups, requests) that carry no MTC label; a user's own operations are Backups, Restores and
	// Schedules, which mig-controller labels when it makes them.
	kinds := []string{"Backup", "Restore", "Schedule"}
	lists, err := c.listAll(ctx, []schema.GroupVersionResource{kube.VeleroBackups, kube.VeleroRestores, kube.VeleroSchedules}, ns)
	if err != nil {
		return nil, err
	}
	for j, items := range lists {
		theirs := 0
		for i := range items {
			if !madeByMTC(&items[i]) {
				theirs++ // a Velero object of the user's in MTC's namespace: its CRD must stay too
			}
		}
		if theirs > 0 {
			users = append(users, fmt.Sprintf("%d Velero %ss in %s that MTC did not make", theirs, kinds[j], ns))
		}
	}
	return users, nil
}

// mtcDPA says whether a DataProtectionApplication is the one MTC's operator made for its
// MigrationController in namespace ns: the operator's objects in that namespace carry an owner
// reference to the MigrationController. A DPA of any name without it is someone else's.
func mtcDPA(u *unstructured.Unstructured, ns string) bool {
	if u.GetNamespace() != ns {
		return false
	}
	for _, o := range u.GetOwnerReferences() {
		if o.Kind == "MigrationController" && strings.HasPrefix(o.APIVersion, kube.MigrationGroup+"/") {
			return true
		}
	}
	return false
}

// madeByMTC says whether mig-controller made a Velero object for a migration: it labels them under
// migration.openshift.io/ (migrated-by-migplan and the plan's name among them).
func madeByMTC(u *unstructured.Unstructured) bool {
	for k := range u.GetLabels() {
		if strings.HasPrefix(k, kube.MigrationGroup+"/") {
			return true
		}
	}
	return false
}
