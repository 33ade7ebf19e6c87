package configure

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/utils/ptr"
	"log/slog"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"

	"github.com/mtc-helm/mtc-helm/hooks/egress"
	"github.com/mtc-helm/mtc-helm/hooks/kube"
	"github.com/mtc-helm/mtc-helm/hooks/storage"
)

// Configure is the configure action.
type Configure struct {
	kube.Action
	// ConfigMap overrides ConfigMapName.
	ConfigMap string
	// OLMProgress bounds how long OLM may show no progress on the Subscription (no resolution,
	// no InstallPlan, the catalog not READY) before configure refuses; default DefaultOLMProgress.
	OLMProgress time.Duration
	// CSVGrace is how long a CSV that had Succeeded may stay Failed (OLM marks it so while the
	// operator pod is unavailable) before configure refuses; default DefaultCSVGrace.
	CSVGrace time.Duration
	// CriticalGrace is how long a Critical condition on a MigStorage or MigCluster must last before
	// configure refuses; zero means DefaultCriticalGrace.
	CriticalGrace time.Duration
	// ResolutionGrace is how long OLM's ConstraintsNotSatisfiable must last before configure
	// refuses; default DefaultResolutionGrace.
	ResolutionGrace time.Duration
}

// Applied is one object the hook applied and how it ended.
type Applied struct {
	Kind   string `json:"kind"`
	Name   string `json:"name"`
	Status string `json:"status"`
}

// Report is what configure did.
type Report struct {
	Cluster  string    `json:"cluster"`
	Operator string    `json:"operator"`
	CRDs     int       `json:"crdsEstablished"`
	Objects  []Applied `json:"objects"`
	// Pruned are the MigStorages and MigClusters an earlier revision of the release applied and
	// this one no longer renders; Kept those of them a MigPlan still uses.
	Pruned []string `json:"pruned,omitempty"`
	Kept   []string `json:"kept,omitempty"`
	// Egress says what became of each egress policy of the user's that the chart listed.
	Egress   []string `json:"egress,omitempty"`
	Result   string   `json:"result"`
	Duration string   `json:"duration"`
}

// WriteText prints the report for people.
func (r *Report) WriteText(w io.Writer) error {
	t := kube.NewText(10)
	t.Field("cluster:", "%s", r.Cluster)
	t.Field("operator:", "%s", r.Operator)
	t.Field("CRDs:", "%d established", r.CRDs)
	for _, o := range r.Objects {
		t.Field("applied:", "%s %s: %s", o.Kind, o.Name, o.Status)
	}
	t.Each("pruned:", r.Pruned)
	t.Each("kept:", r.Kept)
	t.Each("egress:", r.Egress)
	t.Field("result:", "%s in %s", r.Result, r.Duration)
	return t.Print(w)
}

// Run waits for the operator and the CRDs, then applies and waits for each object in order.
func (c *Configure) Run(ctx context.Context) (rep *Report, err error) {
	start := time.Now()
	log := c.Logger()
	c.Waiter.Log = log
	ns := c.NS()
	cmName := c.ConfigMap
	if cmName == "" {
		cmName = ConfigMapName
	}
	rep = &Report{Cluster: c.Host, Result: "failed"}
	defer func() { rep.Duration = time.Since(start).Round(time.Millisecond).String() }()

	// A hook pod may start while the API server restarts: retry what is transient from the start.
	var cm *corev1.ConfigMap
	err = c.Waiter.Retry(ctx, "get ConfigMap "+ns+"/"+cmName, func(ctx context.Context) error {
		var err error
		cm, err = c.Kube.CoreV1().ConfigMaps(ns).Get(ctx, cmName, metav1.GetOptions{})
		return err
	})
	if apierrors.IsNotFound(err) {
		return rep, kube.Refusef("ConfigMap %s/%s with the objects to apply does not exist; the chart renders it as a release resource, so run configure as the chart's post-install hook or install the chart first", ns, cmName)
	}
	if err != nil {
		return rep, kube.Explain(err, "get ConfigMap "+ns+"/"+cmName, c.Host)
	}
	op, err := ParseOperator(cm.Data[OperatorKey])
	if err != nil {
		return rep, kube.Refusef("ConfigMap %s/%s is malformed: %v; it comes from the chart, so reinstall or upgrade the release", ns, cmName, err)
	}
	objs, err := parseObjects(cm.Data[ObjectsKey])
	if err != nil {
		return rep, kube.Refusef("ConfigMap %s/%s is malformed: %v; it comes from the chart, so reinstall or upgrade the release", ns, cmName, err)
	}
	plan, err := ParseEgress(cm.Data[EgressKey])
	if err != nil {
		return rep, kube.Refusef("ConfigMap %s/%s is malformed: %v; it comes from the chart, so reinstall or upgrade the release", ns, cmName, err)
	}
	gvrs := make([]schema.GroupVersionResource, len(objs))
	for i, o := range objs {
		gvr, ok := kube.MTCResourceForKind(o.GetKind())
		if !ok || o.GetAPIVersion() != kube.MigrationGroup+"/v1alpha1" {
			return rep, kube.Refusef("ConfigMap %s/%s holds %s %s, but configure applies only %s/v1alpha1 kinds; fix the chart template that renders it",
				ns, cmName, o.GetAPIVersion(), o.GetKind(), kube.MigrationGroup)
		}
		if o.GetNamespace() == "" {
			o.SetNamespace(ns)
		}
		gvrs[i] = gvr
	}

	// 0. MTC's rules in the egress policies of the user's (the chart made its own where there were none).
	if plan != nil {
		if err := c.mergeEgress(ctx, plan, rep); err != nil {
			return rep, err
		}
	}

	// 1. The operator.
	switch op.Mode {
	case ModeOLM:
		csv, err := c.waitOLM(ctx, ns, op.Subscription, op.Line)
		if err != nil {
			return rep, err
		}
		rep.Operator = "OLM, CSV " + csv + " Succeeded"
	case ModeLegacy:
		if err := c.waitDeployment(ctx, ns, op.Deployment); err != nil {
			return rep, err
		}
		rep.Operator = "legacy, Deployment " + op.Deployment + " available"
		if err := c.emptyNodeSelector(ctx, ns); err != nil {
			return rep, err
		}
	}
	log.Info("operator ready", "operator", rep.Operator)

	// 2. The CRDs of every kind we apply.
	seen := map[string]bool{}
	for _, gvr := range gvrs {
		name := kube.CRDName(gvr)
		if seen[name] {
			continue
		}
		seen[name] = true
		if err := c.waitCRD(ctx, name); err != nil {
			return rep, err
		}
		rep.CRDs++
	}

	// 3. Apply in order, each waited for before the next: the MigStorage and MigClusters need the
	// controller that the MigrationController brings up.
	for i, o := range objs {
		if o.GetKind() == "MigStorage" && o.GetAnnotations()[storage.MCGDiscoverAnnotation] == "true" {
			if err := c.fillMCG(ctx, o); err != nil {
				return rep, err
			}
		}
		// What mig-controller last observed, so that conditions written for an earlier spec are not
		// taken for the new one's.
		prev, _ := c.Dynamic.Resource(gvrs[i]).Namespace(o.GetNamespace()).Get(ctx, o.GetName(), metav1.GetOptions{})
		applied, err := c.apply(ctx, gvrs[i], o)
		if err != nil {
			return rep, err
		}
		log.Info("applied", "kind", o.GetKind(), "name", o.GetNamespace()+"/"+o.GetName(), "fieldManager", kube.FieldManager)
		a := Applied{Kind: o.GetKind(), Name: o.GetNamespace() + "/" + o.GetName()}
		if o.GetKind() == "MigrationController" {
			a.Status, err = c.waitController(ctx, gvrs[i], applied, prev, op.Mode, op.Deployment)
		} else {
			a.Status, err = c.waitReady(ctx, gvrs[i], o, prev)
		}
		rep.Objects = append(rep.Objects, a)
		if err != nil {
			return rep, err
		}
	}
	// 4. What an earlier revision applied and this one dropped.
	if err := c.prune(ctx, ns, objs, rep, log); err != nil {
		return rep, err
	}
	rep.Result = "ok"
	return rep, nil
}

// prune deletes the MigStorages and remote MigClusters that carry this release's label but that
// the current revision no longer renders (a remote or the replication repository removed from the
// values). One that a MigPlan still names stays, said in the report; nothing without the release's
// label is touched.
func (c *Configure) prune(ctx context.Context, ns string, objs []*unstructured.Unstructured, rep *Report, log *slog.Logger) error {
	release := ""
	want := map[string]bool{}
	for _, o := range objs {
		if r := o.GetLabels()[kube.InstanceLabel]; r != "" {
			release = r
		}
		want[o.GetKind()+"/"+o.GetName()] = true
	}
	if release == "" {
		return nil
	}
	sel := kube.InstanceLabel + "=" + release + ",app.kubernetes.io/managed-by=Helm"
	type candidate struct {
		kind string
		gvr  schema.GroupVersionResource
		u    unstructured.Unstructured
	}
	var dropped []candidate
	for _, k := range []struct {
		kind string
		gvr  schema.GroupVersionResource
	}{{"MigStorage", kube.MigStorages}, {"MigCluster", kube.MigClusters}} {
		l, err := c.Dynamic.Resource(k.gvr).Namespace(ns).List(ctx, metav1.ListOptions{LabelSelector: sel})
		if kube.IsNotServed(err) {
			continue // a remote on 3.11: the legacy operator brings no such kind there
		}
		if err != nil {
			return kube.Explain(err, "list "+k.kind+"s of release "+release+" in "+ns, c.Host)
		}
		for _, u := range l.Items {
			if host, _, _ := unstructured.NestedBool(u.Object, "spec", "isHostCluster"); want[k.kind+"/"+u.GetName()] || host || u.GetDeletionTimestamp() != nil {
				continue
			}
			dropped = append(dropped, candidate{k.kind, k.gvr, u})
		}
	}
	if len(dropped) == 0 {
		return nil
	}
	used := map[string][]string{} // Kind/name: the plans that name it
	plans, err := c.Dynamic.Resource(kube.MigPlans).Namespace(ns).List(ctx, metav1.ListOptions{})
	if err != nil && !kube.IsNotServed(err) {
		return kube.Explain(err, "list MigPlans in "+ns, c.Host)
	}
	if err == nil {
		for _, p := range plans.Items {
			for kind, field := range map[string][]string{"MigCluster": {"srcMigClusterRef", "destMigClusterRef"}, "MigStorage": {"migStorageRef"}} {
				for _, f := range field {
					if n, _, _ := unstructured.NestedString(p.Object, "spec", f, "name"); n != "" {
						used[kind+"/"+n] = append(used[kind+"/"+n], p.GetName())
					}
				}
			}
		}
	}
	for _, d := range dropped {
		name := d.kind + " " + ns + "/" + d.u.GetName()
		if plans := used[d.kind+"/"+d.u.GetName()]; len(plans) > 0 {
			rep.Kept = append(rep.Kept, name+": the values no longer have it, but MigPlan "+strings.Join(plans, ", ")+" still uses it; delete the plan, then run helm upgrade again")
			continue
		}
		what := "delete " + name
		uid := d.u.GetUID()
		err := c.Waiter.Retry(ctx, what, func(ctx context.Context) error {
			err := c.Dynamic.Resource(d.gvr).Namespace(ns).Delete(ctx, d.u.GetName(), metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: ptr.To(uid)}})
			if apierrors.IsNotFound(err) {
				return nil
			}
			return err
		})
		if err != nil {
			return kube.Explain(err, what, c.Host)
		}
		rep.Pruned = append(rep.Pruned, name)
		log.Info("pruned", "kind", d.kind, "name", ns+"/"+d.u.GetName())
	}
	return nil
}

// NodeSelectorAnnotation is OpenShift 3.11's project node selector; "" lets a project's pods run
// on every node whatever the cluster's default project node selector.
const NodeSelectorAnnotation = "openshift.io/node-selector"

// emptyNodeSelector gives the legacy namespace the empty project node selector that the legacy
// operator.yml's Namespace carries, before the operator creates the restic DaemonSet: with the
// cluster's default node selector, restic would skip the nodes outside it and their volumes would
// not migrate. A node selector the user set on purpose is left as it is.
func (c *Configure) emptyNodeSelector(ctx context.Context, ns string) error {
	what := "set the annotation " + NodeSelectorAnnotation + `="" on namespace ` + ns
	var cur *corev1.Namespace
	err := c.Waiter.Retry(ctx, "get namespace "+ns, func(ctx context.Context) error {
		var err error
		cur, err = c.Kube.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
		return err
	})
	if err != nil {
		return kube.Explain(err, "get namespace "+ns, c.Host)
	}
	if _, set := cur.Annotations[NodeSelectorAnnotation]; set {
		return nil
	}
	patch := []byte(`{"metadata":{"annotations":{"` + NodeSelectorAnnotation + `":""}}}`)
	return kube.Explain(c.Waiter.Retry(ctx, what, func(ctx context.Context) error {
		_, err := c.Kube.CoreV1().Namespaces().Patch(ctx, ns, types.MergePatchType, patch, metav1.PatchOptions{FieldManager: kube.FieldManager})
		return err
	}), what, c.Host)
}

// fillMCG completes a MigStorage of provider mcg whose values hold no credentials from OpenShift Data
// Foundation, as the storage check found it before the install: the admin keys into the MigStorage's
// Secret (the release's, rendered without data), the S3 endpoint and the ingress CA into its spec
// where the values left them empty.
func (c *Configure) fillMCG(ctx context.Context, o *unstructured.Unstructured) error {
	m, err := storage.DiscoverMCG(ctx, c.Kube, c.Dynamic, c.Host)
	if err != nil {
		return err
	}
	cfg, _, _ := unstructured.NestedMap(o.Object, "spec", "backupStorageConfig")
	if cfg == nil {
		cfg = map[string]any{}
	}
	name, _, _ := unstructured.NestedString(cfg, "credsSecretRef", "name")
	ns, _, _ := unstructured.NestedString(cfg, "credsSecretRef", "namespace")
	if name == "" || ns == "" {
		return kube.Refusef("MigStorage %s/%s asks for the Multicloud Object Gateway's keys but names no credsSecretRef; fix the chart template that renders it", o.GetNamespace(), o.GetName())
	}
	patch, err := json.Marshal(map[string]any{"data": m.Credentials()})
	if err != nil {
		return err
	}
	what := "write the Multicloud Object Gateway's keys into Secret " + ns + "/" + name
	if err := kube.Explain(c.Waiter.Retry(ctx, what, func(ctx context.Context) error {
		_, err := c.Kube.CoreV1().Secrets(ns).Patch(ctx, name, types.MergePatchType, patch, metav1.PatchOptions{FieldManager: kube.FieldManager})
		return err
	}), what, c.Host); err != nil {
		return err
	}
	if s, _ := cfg["awsS3Url"].(string); s == "" {
		cfg["awsS3Url"] = m.Endpoint
	}
	if s, _ := cfg["s3CustomCABundle"].(string); s == "" && len(m.CA) > 0 {
		cfg["s3CustomCABundle"] = base64.StdEncoding.EncodeToString(m.CA)
	}
	return unstructured.SetNestedMap(o.Object, cfg, "spec", "backupStorageConfig")
}

// apply server-side applies o with field manager mtc-helm, taking over conflicting fields, with
// strict field validation: a field the CRD's schema does not know is refused, not pruned in silence.
// API servers without server-side apply (Kubernetes 1.11 on OCP 3.11) get a create or a merge patch
// instead.
func (c *Configure) apply(ctx context.Context, gvr schema.GroupVersionResource, o *unstructured.Unstructured) (*unstructured.Unstructured, error) {
	what := fmt.Sprintf("apply %s %s/%s", o.GetKind(), o.GetNamespace(), o.GetName())
	res := c.Dynamic.Resource(gvr).Namespace(o.GetNamespace())
	body, err := json.Marshal(o.Object)
	if err != nil {
		return nil, err
	}
	var out *unstructured.Unstructured
	err = c.Waiter.Retry(ctx, what, func(ctx context.Context) error {
		var err error
		out, err = res.Patch(ctx, o.GetName(), types.ApplyPatchType, body,
			metav1.PatchOptions{FieldManager: kube.FieldManager, Force: ptr.To(true), FieldValidation: "Strict"})
		return err
	})
	if apierrors.IsBadRequest(err) || apierrors.IsInvalid(err) {
		return nil, kube.Refusef("the API server refused %s %s/%s as MTC's CRD describes it (%s); correct the value the chart put there (helm upgrade with a fixed override), or report a chart defect if no value of yours sets it",
			o.GetKind(), o.GetNamespace(), o.GetName(), strings.TrimSuffix(kube.StatusMessage(err), "."))
	}
	if err == nil || !apierrors.IsUnsupportedMediaType(err) {
		return out, kube.Explain(err, what, c.Host)
	}
	// No server-side apply: create, or merge-patch what we render.
	return out, kube.Explain(c.Waiter.Retry(ctx, what, func(ctx context.Context) error {
		var err error
		out, err = res.Create(ctx, o, metav1.CreateOptions{FieldManager: kube.FieldManager})
		if !apierrors.IsAlreadyExists(err) {
			return err
		}
		out, err = res.Patch(ctx, o.GetName(), types.MergePatchType, body, metav1.PatchOptions{FieldManager: kube.FieldManager})
		return err
	}), what, c.Host)
}

// mergeEgress puts MTC's rules in front of each policy of plan.Merge and takes them out of those of
// plan.Unmerge.
func (c *Configure) mergeEgress(ctx context.Context, plan *egress.Plan, rep *Report) error {
	m := &egress.Merger{Action: &c.Action, Kind: plan.Kind, Owner: plan.Owner}
	for _, t := range plan.Merge {
		changed, err := m.Merge(ctx, t, plan.Rules)
		if err != nil {
			return err
		}
		rep.Egress = append(rep.Egress, fmt.Sprintf("%s %s: MTC's rules in front of the user's (changed: %v)", plan.Kind, t, changed))
	}
	for _, t := range plan.Unmerge {
		changed, err := m.Unmerge(ctx, t)
		if err != nil {
			return err
		}
		rep.Egress = append(rep.Egress, fmt.Sprintf("%s %s: MTC's rules taken out (changed: %v)", plan.Kind, t, changed))
	}
	return nil
}

func (c *Configure) waitDeployment(ctx context.Context, ns, name string) error {
	return c.Waiter.UntilWatching(ctx, fmt.Sprintf("Deployment %s/%s to be available", ns, name),
		"look at the operator pod (oc get pods -n "+ns+" -l app=migration) and its image pull",
		[]kube.Watch{kube.WatchNamed(c.Dynamic, kube.Deployments, ns, name)},
		func(ctx context.Context) (bool, string, error) {
			d, err := c.Kube.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
			if apierrors.IsNotFound(err) {
				return false, "Deployment not found yet", nil
			}
			if err != nil {
				return false, "", kube.Explain(err, "get Deployment "+ns+"/"+name, c.Host)
			}
			if d.Status.ObservedGeneration < d.Generation {
				return false, "rollout not observed yet", nil
			}
			if deploymentAvailable(d) {
				return true, "available", nil
			}
			return false, fmt.Sprintf("%d of %d replicas available", d.Status.AvailableReplicas, d.Status.Replicas), nil
		})
}

// deploymentAvailable reports whether the deployment controller has seen the Deployment's spec and
// says it is Available.
func deploymentAvailable(d *appsv1.Deployment) bool {
	if d.Status.ObservedGeneration < d.Generation {
		return false
	}
	for _, cond := range d.Status.Conditions {
		if cond.Type == appsv1.DeploymentAvailable && cond.Status == corev1.ConditionTrue {
			return true
		}
	}
	return false
}

func (c *Configure) waitCRD(ctx context.Context, name string) error {
	return c.Waiter.Until(ctx, "CRD "+name+" to be established",
		"check that the operator installed its CRDs (oc get crd "+name+")",
		func(ctx context.Context) (bool, string, error) {
			crd, err := getCRD(ctx, c.Dynamic, name)
			if apierrors.IsNotFound(err) {
				return false, "not created yet", nil
			}
			if err != nil {
				return false, "", kube.Explain(err, "get CRD "+name, c.Host)
			}
			if condition(crd, "Established") == "True" {
				return true, "established", nil
			}
			return false, "not established yet", nil
		})
}

// getCRD reads a CRD through apiextensions v1, or v1beta1 on API servers older than 1.16.
func getCRD(ctx context.Context, dyn dynamic.Interface, name string) (*unstructured.Unstructured, error) {
	var crd *unstructured.Unstructured
	_, err := kube.WithCRDs(func(gvr schema.GroupVersionResource) error {
		var err error
		crd, err = dyn.Resource(gvr).Get(ctx, name, metav1.GetOptions{})
		return err
	})
	return crd, err
}

// waitReady waits for mig-controller to mark a MigStorage or MigCluster Ready; a Critical condition fails.
// prev is the object before the apply (nil when it is new): mig-controller marks each spec it
// reconciled with status.observedDigest, and until the digest moves past prev's, the conditions are
// the earlier spec's.
func (c *Configure) waitReady(ctx context.Context, gvr schema.GroupVersionResource, o, prev *unstructured.Unstructured) (string, error) {
	what := fmt.Sprintf("%s %s/%s", o.GetKind(), o.GetNamespace(), o.GetName())
	var prevDigest string
	var prevSpec any
	if prev != nil {
		prevDigest, _, _ = unstructured.NestedString(prev.Object, "status", "observedDigest")
		prevSpec = prev.Object["spec"]
	}
	grace := c.CriticalGrace
	if grace <= 0 {
		grace = DefaultCriticalGrace
	}
	var criticalSince time.Time
	err := c.Waiter.UntilWatching(ctx, what+" to be Ready",
		"look at its conditions (oc describe "+strings.ToLower(o.GetKind())+" -n "+o.GetNamespace()+" "+o.GetName()+") and the controller log",
		[]kube.Watch{kube.WatchNamed(c.Dynamic, gvr, o.GetNamespace(), o.GetName())},
		func(ctx context.Context) (bool, string, error) {
			cur, err := c.Dynamic.Resource(gvr).Namespace(o.GetNamespace()).Get(ctx, o.GetName(), metav1.GetOptions{})
			if err != nil {
				return false, "", kube.Explain(err, "get "+what, c.Host)
			}
			digest, _, _ := unstructured.NestedString(cur.Object, "status", "observedDigest")
			specChanged := prev == nil || !equality.Semantic.DeepEqual(prevSpec, cur.Object["spec"])
			if specChanged && (digest == "" || digest == prevDigest) {
				return false, "the controller has not reconciled the applied spec yet", nil
			}
			conds, _, _ := unstructured.NestedSlice(cur.Object, "status", "conditions")
			critical := false
			for _, x := range conds {
				m, _ := x.(map[string]any)
				if m["category"] != "Critical" || m["status"] != "True" {
					continue
				}
				critical = true
				found := fmt.Sprintf("%v (%v)", strings.TrimSuffix(fmt.Sprint(m["message"]), "."), m["type"])
				// The digest says the controller has seen the spec, not what else the release changed
				// under it (the credentials Secret it rewrote, ODF's keys filled in): a Critical
				// condition counts once it has lasted the grace.
				if criticalSince.IsZero() {
					criticalSince = time.Now()
				}
				if time.Since(criticalSince) < grace {
					return false, found + ", which the controller may still re-check", nil
				}
				return false, "", kube.Refusef("%s is not usable: %s; fix the credentials or settings in the values and run helm upgrade again", what, found)
			}
			if !critical {
				criticalSince = time.Time{}
			}
			if condition(cur, "Ready") == "True" {
				return true, "Ready", nil
			}
			return false, "not Ready yet", nil
		})
	if err != nil {
		return "not Ready", err
	}
	return "Ready", nil
}

func findCondition(u *unstructured.Unstructured, typ string) map[string]any {
	return kube.FindCondition(u, typ)
}

func condition(u *unstructured.Unstructured, typ string) string {
	s, _ := findCondition(u, typ)["status"].(string)
	return s
}

func conditionReason(u *unstructured.Unstructured, typ string) string {
	m := findCondition(u, typ)
	if m == nil || m["status"] != "True" {
		return ""
	}
	s, _ := m["reason"].(string)
	return s
}

func conditionMessage(u *unstructured.Unstructured, typ string) string {
	return kube.ConditionMessage(u, typ)
}

func conditionMessages(u *unstructured.Unstructured) string {
	conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	var msgs []string
	for _, x := range conds {
		if m, ok := x.(map[string]any); ok {
			if s, _ := m["message"].(string); s != "" {
				msgs = append(msgs, strings.TrimSuffix(s, "."))
			}
		}
	}
	if len(msgs) == 0 {
		return "no message"
	}
	return strings.Join(msgs, "; ")
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}
