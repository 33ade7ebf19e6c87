package configure

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/mtc-helm/mtc-helm/hooks/kube"
)

// Bounds of the OLM wait (see Configure.OLMProgress and Configure.CSVGrace).
const (
	DefaultOLMProgress = time.Minute
	DefaultCSVGrace    = 2 * time.Minute
	// DefaultCriticalGrace is how long mig-controller gets to re-check a MigStorage or MigCluster whose
	// Secret changed with the release (it requeues on the Secret's change within moments).
	DefaultCriticalGrace = 5 * time.Second
	// DefaultResolutionGrace is how long OLM's ConstraintsNotSatisfiable must last before
	// configure refuses: OLM reports it for a moment while it replaces a CSV.
	DefaultResolutionGrace = 10 * time.Second
	// DefaultReplaceGrace is how long it may last while OLM replaces an installed CSV, which takes its
	// plan's passes, about a minute.
	DefaultReplaceGrace = 2 * time.Minute
)

// olmWait follows one Subscription through OLM as OLM v0 really behaves: resolution (which may
// fail for good: ConstraintsNotSatisfiable), an InstallPlan (which may wait for approval or
// fail), then the CSV, which may go Failed after Succeeded while its operator pod is unavailable
// and come back.
type olmWait struct {
	c        *Configure
	ns, sub  string
	line     string // MTC line whose CSV counts ("" any)
	start    time.Time
	progress time.Duration
	grace    time.Duration
	failedAt map[string]time.Time // CSVs seen Failed after Succeeded, since when
	// unsatSince is when ConstraintsNotSatisfiable was first seen in a row; unsatGrace how long
	// it must last to count.
	unsatSince time.Time
	unsatGrace time.Duration
	sawStatus  bool
}

func (c *Configure) waitOLM(ctx context.Context, ns, subName, line string) (string, error) {
	w := &olmWait{c: c, ns: ns, sub: subName, line: line, unsatGrace: c.ResolutionGrace, start: time.Now(), progress: c.OLMProgress, grace: c.CSVGrace, failedAt: map[string]time.Time{}}
	if w.progress <= 0 {
		w.progress = DefaultOLMProgress
	}
	if w.grace <= 0 {
		w.grace = DefaultCSVGrace
	}
	if w.unsatGrace <= 0 {
		w.unsatGrace = DefaultResolutionGrace
	}
	var csvName string
	// OLM's progress shows on the Subscription, its InstallPlans and the CSVs: look again when one changes.
	watches := []kube.Watch{kube.WatchNamed(c.Dynamic, kube.Subscriptions, ns, subName),
		kube.WatchAll(c.Dynamic, kube.InstallPlans, ns), kube.WatchAll(c.Dynamic, kube.CSVs, ns)}
	err := c.Waiter.UntilWatching(ctx, fmt.Sprintf("OLM to install the operator of Subscription %s/%s", ns, subName),
		"look at the Subscription and InstallPlan status (oc describe subscription -n "+ns+" "+subName+") and at the catalog source", watches,
		func(ctx context.Context) (bool, string, error) {
			done, status, name, err := w.check(ctx)
			if done {
				csvName = name
			}
			return done, status, err
		})
	return csvName, err
}

func (w *olmWait) check(ctx context.Context) (bool, string, string, error) {
	dyn, ns := w.c.Dynamic, w.ns
	sub, err := dyn.Resource(kube.Subscriptions).Namespace(ns).Get(ctx, w.sub, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return false, "Subscription not found yet", "", nil
	}
	if err != nil {
		return false, "", "", kube.Explain(err, "get Subscription "+ns+"/"+w.sub, w.c.Host)
	}
	// Resolution. ConstraintsNotSatisfiable is terminal in OLM (it stops retrying); any other
	// resolution error may pass (a catalog still connecting), so it counts as no progress.
	if m := findCondition(sub, "ResolutionFailed"); m == nil || m["status"] != "True" || m["reason"] != "ConstraintsNotSatisfiable" {
		w.unsatSince = time.Time{}
	}
	if m := findCondition(sub, "ResolutionFailed"); m != nil && m["status"] == "True" {
		msg := strings.TrimSuffix(fmt.Sprint(m["message"]), ".")
		if m["reason"] == "ConstraintsNotSatisfiable" {
			// Terminal for OLM, except while it replaces a CSV (both CSVs exist for a moment and
			// the resolver reports them as a conflict): refuse once it has lasted a little while.
			if w.unsatSince.IsZero() {
				w.unsatSince = time.Now()
			}
			grace := w.unsatGrace
			if strings.Count(msg, "@existing/") >= 2 {
				// Two installed CSVs in the message: OLM is replacing one (the dependency's, after a
				// channel switch) and keeps both until the new one succeeded and its plan ends.
				grace = max(grace, DefaultReplaceGrace)
			}
			if time.Since(w.unsatSince) >= grace {
				return false, "", "", kube.Refusef("OLM cannot resolve Subscription %s/%s (%s); %s", ns, w.sub, msg, w.resolutionRemedy(ctx, sub))
			}
			return false, "ResolutionFailed: " + msg, "", nil
		}
		if err := w.noProgress("OLM reports ResolutionFailed (" + msg + ")"); err != nil {
			return false, "", "", err
		}
		return false, "ResolutionFailed: " + msg, "", nil
	}
	installed, _, _ := unstructured.NestedString(sub.Object, "status", "installedCSV")
	current, _, _ := unstructured.NestedString(sub.Object, "status", "currentCSV")
	state, _, _ := unstructured.NestedString(sub.Object, "status", "state")
	if state != "" || current != "" {
		w.sawStatus = true
	}
	ipName, _, _ := unstructured.NestedString(sub.Object, "status", "installPlanRef", "name")
	if ipName == "" {
		ipName, _, _ = unstructured.NestedString(sub.Object, "status", "installplan", "name")
	}
	if ipName != "" && (installed == "" || (current != "" && current != installed)) {
		ip, err := dyn.Resource(kube.InstallPlans).Namespace(ns).Get(ctx, ipName, metav1.GetOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			return false, "", "", kube.Explain(err, "get InstallPlan "+ns+"/"+ipName, w.c.Host)
		}
		if err == nil {
			approval, _, _ := unstructured.NestedString(ip.Object, "spec", "approval")
			approved, _, _ := unstructured.NestedBool(ip.Object, "spec", "approved")
			phase, _, _ := unstructured.NestedString(ip.Object, "status", "phase")
			if approval == "Manual" && !approved {
				return false, "", "", kube.Refusef("InstallPlan %s/%s waits for manual approval (installPlanApproval: Manual on this or another Subscription in %s); approve it with: oc patch installplan %s -n %s --type merge -p '{\"spec\":{\"approved\":true}}' and then run helm upgrade again, or set installPlanApproval to Automatic",
					ns, ipName, ns, ipName, ns)
			}
			if phase == "Failed" {
				return false, "", "", kube.Refusef("InstallPlan %s/%s failed (%s); fix what its status says (oc describe installplan -n %s %s) and run helm upgrade again",
					ns, ipName, conditionMessages(ip), ns, ipName)
			}
		}
	}
	target := current
	if target == "" {
		target = installed
	}
	if w.line != "" && installed != "" && !strings.HasPrefix(installed, kube.CSVPrefix+"v"+w.line+".") {
		// OLM has not moved to the chart's line yet (a channel switch it has not resolved).
		if time.Since(w.start) >= w.progress {
			// OLM keeps an installed operator when no upgrade of it and its dependencies can be
			// resolved together, and says nothing (a 1.7 to 1.8 switch with OADP left on 1.0).
			return false, "", "", kube.Refusef("OLM made no progress on Subscription %s/%s in %s: the installed CSV is still %s, not one of MTC %s (OLM state %s), as OLM keeps an installed operator whose upgrade it cannot resolve with its dependencies; %s",
				ns, w.sub, w.progress.Round(time.Second), installed, w.line, orUnknown(state), w.resolutionRemedy(ctx, sub))
		}
		if err := w.noProgress(""); err != nil {
			return false, "", "", err
		}
		return false, fmt.Sprintf("installed CSV %s is not MTC %s yet", installed, w.line), "", nil
	}
	if target == "" || installed == "" || (current != "" && current != installed) {
		if ipName == "" {
			if err := w.noProgress(w.stalled(ctx, sub)); err != nil {
				return false, "", "", err
			}
		}
		return false, "Subscription state " + orUnknown(state), "", nil
	}
	csv, err := dyn.Resource(kube.CSVs).Namespace(ns).Get(ctx, target, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return false, "CSV " + target + " not created yet", "", nil
	}
	if err != nil {
		return false, "", "", kube.Explain(err, "get ClusterServiceVersion "+ns+"/"+target, w.c.Host)
	}
	phase, _, _ := unstructured.NestedString(csv.Object, "status", "phase")
	reason, _, _ := unstructured.NestedString(csv.Object, "status", "reason")
	msg, _, _ := unstructured.NestedString(csv.Object, "status", "message")
	switch phase {
	case "Succeeded":
		delete(w.failedAt, target)
		// The operator is ready when every CSV that OLM is installing here has Succeeded: MTC's and
		// the OADP it depends on (a step of the same InstallPlan, or of a plan of the dependency's
		// Subscription). OLM then goes on with passes over the plan's remaining bookkeeping (status,
		// labels, ServiceAccount owners) for up to a minute: that is not waited for, as a person
		// following the manual procedure does not wait for it either. The cleanup waits for it
		// before it removes the operator, so an uninstall right after the install is safe.
		plans, err := dyn.Resource(kube.InstallPlans).Namespace(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, "", "", kube.Explain(err, "list InstallPlans in "+ns, w.c.Host)
		}
		for i := range plans.Items {
			ip := &plans.Items[i]
			switch p, _, _ := unstructured.NestedString(ip.Object, "status", "phase"); p {
			case "", "Planning":
				return false, "CSV " + target + " Succeeded, InstallPlan " + ip.GetName() + " still " + orUnknown(p), "", nil
			case "Installing":
				names, _, _ := unstructured.NestedStringSlice(ip.Object, "spec", "clusterServiceVersionNames")
				for _, n := range names {
					if n == target {
						continue
					}
					dep, err := dyn.Resource(kube.CSVs).Namespace(ns).Get(ctx, n, metav1.GetOptions{})
					if apierrors.IsNotFound(err) {
						return false, "CSV " + target + " Succeeded, InstallPlan " + ip.GetName() + " has not created CSV " + n + " yet", "", nil
					}
					if err != nil {
						return false, "", "", kube.Explain(err, "get ClusterServiceVersion "+ns+"/"+n, w.c.Host)
					}
					if dp, _, _ := unstructured.NestedString(dep.Object, "status", "phase"); dp != "Succeeded" {
						return false, "CSV " + target + " Succeeded, CSV " + n + " of InstallPlan " + ip.GetName() + " is " + orUnknown(dp), "", nil
					}
				}
			}
		}
		return true, "CSV " + target + " Succeeded", target, nil
	case "Failed":
		if !CSVHadSucceeded(csv) {
			return false, "", "", kube.Refusef("the MTC operator failed to install: ClusterServiceVersion %s/%s is Failed (%s); fix that and run helm upgrade again",
				ns, target, csvState(reason, msg))
		}
		since, ok := w.failedAt[target]
		if !ok {
			since = time.Now()
			w.failedAt[target] = since
		}
		if time.Since(since) > w.grace {
			return false, "", "", kube.Refusef("the MTC operator is not running: ClusterServiceVersion %s/%s had Succeeded but has been Failed for %s (%s); look at the operator pod (oc get pods -n %s) and run helm upgrade again once it runs",
				ns, target, time.Since(since).Round(time.Second), csvState(reason, msg), ns)
		}
		return false, fmt.Sprintf("CSV %s Failed (%s) after it had Succeeded; waiting up to %s for the operator to come back", target, reason, w.grace), "", nil
	}
	return false, "CSV " + target + " phase " + orUnknown(phase), "", nil
}

// csvState is a CSV's reason and message as one phrase.
func csvState(reason, msg string) string {
	msg = strings.TrimSuffix(msg, ".")
	switch {
	case reason == "":
		return orUnknown(msg)
	case msg == "":
		return reason
	}
	return reason + ": " + msg
}

// CSVHadSucceeded reports whether a CSV reached Succeeded before: OLM records each phase it
// passed in status.conditions.
func CSVHadSucceeded(csv *unstructured.Unstructured) bool {
	conds, _, _ := unstructured.NestedSlice(csv.Object, "status", "conditions")
	for _, x := range conds {
		if m, ok := x.(map[string]any); ok && m["phase"] == "Succeeded" {
			return true
		}
	}
	return false
}

// noProgress refuses once OLM has shown no progress for longer than the bound.
func (w *olmWait) noProgress(saw string) error {
	if time.Since(w.start) < w.progress {
		return nil
	}
	return kube.Refusef("OLM made no progress on Subscription %s/%s in %s: %s", w.ns, w.sub, w.progress.Round(time.Second), saw)
}

// stalled says what a Subscription without an InstallPlan shows, and what to check.
func (w *olmWait) stalled(ctx context.Context, sub *unstructured.Unstructured) string {
	if m := findCondition(sub, "CatalogSourcesUnhealthy"); m != nil && m["status"] == "True" {
		return fmt.Sprintf("its catalog sources are unhealthy (%s); check the CatalogSource (oc get catalogsource -n openshift-marketplace) and its connection", strings.TrimSuffix(fmt.Sprint(m["message"]), "."))
	}
	source, _, _ := unstructured.NestedString(sub.Object, "spec", "source")
	sourceNS, _, _ := unstructured.NestedString(sub.Object, "spec", "sourceNamespace")
	if source != "" && sourceNS != "" {
		cs, err := w.c.Dynamic.Resource(kube.CatalogSources).Namespace(sourceNS).Get(ctx, source, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
			return fmt.Sprintf("its CatalogSource %s/%s does not exist; create it or set olm.subscription.source to a catalog that exists", sourceNS, source)
		case err == nil:
			st, _, _ := unstructured.NestedString(cs.Object, "status", "connectionState", "lastObservedState")
			if st != "READY" {
				return fmt.Sprintf("its CatalogSource %s/%s is %s, not READY; check the catalog's pod or address (oc describe catalogsource -n %s %s)", sourceNS, source, orUnknown(st), sourceNS, source)
			}
		}
	}
	if !w.sawStatus {
		return "OLM has not written any status on it; check that OLM runs (oc get pods -n openshift-operator-lifecycle-manager)"
	}
	return "OLM created no InstallPlan for it; check the catalog operator's log (oc logs -n openshift-operator-lifecycle-manager deployment/catalog-operator)"
}

// resolutionRemedy names the usual fixes for a Subscription OLM cannot satisfy: a channel or
// startingCSV the catalog lacks, or an OADP Subscription in the namespace (pinned by the chart, or
// created by OLM for an earlier MTC line) on a channel whose OADP this MTC does not accept.
func (w *olmWait) resolutionRemedy(ctx context.Context, sub *unstructured.Unstructured) string {
	ch, _, _ := unstructured.NestedString(sub.Object, "spec", "channel")
	start, _, _ := unstructured.NestedString(sub.Object, "spec", "startingCSV")
	var what []string
	if ch != "" {
		what = append(what, "that channel "+ch+" exists in the catalog")
	}
	if start != "" {
		what = append(what, "that startingCSV "+start+" is in that channel")
	}
	var oadp []string
	if subs, err := w.c.Dynamic.Resource(kube.Subscriptions).Namespace(w.ns).List(ctx, metav1.ListOptions{}); err == nil {
		for _, s := range subs.Items {
			pkg, _, _ := unstructured.NestedString(s.Object, "spec", "name")
			och, _, _ := unstructured.NestedString(s.Object, "spec", "channel")
			if s.GetName() != w.sub && slices.Contains(kube.OADPPackages, pkg) {
				oadp = append(oadp, fmt.Sprintf("Subscription %s follows OADP channel %s; if this MTC needs another OADP, switch it (oc patch subscription %s -n %s --type merge -p '{\"spec\":{\"channel\":\"<channel>\"}}') or set olm.oadp.channel",
					s.GetName(), orUnknown(och), s.GetName(), w.ns))
			}
		}
	}
	if len(oadp) == 0 {
		what = append(what, "that no pinned OADP channel (olm.oadp.channel) excludes the OADP version MTC requires")
	}
	msg := "check " + strings.Join(what, ", ")
	if len(oadp) > 0 {
		msg += "; " + strings.Join(oadp, "; ")
	}
	return msg + "; then run helm upgrade again"
}
