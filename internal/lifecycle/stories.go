package lifecycle

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/mtc-helm/mtc-helm/internal/testenv"
)

var (
	subscriptions        = schema.GroupVersionResource{Group: "operators.coreos.com", Version: "v1alpha1", Resource: "subscriptions"}
	csvs                 = schema.GroupVersionResource{Group: "operators.coreos.com", Version: "v1alpha1", Resource: "clusterserviceversions"}
	migrationcontrollers = schema.GroupVersionResource{Group: "migration.openshift.io", Version: "v1alpha1", Resource: "migrationcontrollers"}
	migstorages          = schema.GroupVersionResource{Group: "migration.openshift.io", Version: "v1alpha1", Resource: "migstorages"}
	migplans             = schema.GroupVersionResource{Group: "migration.openshift.io", Version: "v1alpha1", Resource: "migplans"}
	migmigrations        = schema.GroupVersionResource{Group: "migration.openshift.io", Version: "v1alpha1", Resource: "migmigrations"}
)

// Values is the path of a ready override under values/.
func (l *Lab) Values(name string) string { return filepath.Join(l.Root, "values", name) }

// LocalValues writes an override that points the chart at what the local cluster has: no
// remote cluster unless given, and the cluster's S3 endpoint as the replication repository unless
// values set one (values/ keep their real-world buckets, which the storage check cannot reach here).
// It returns its path.
func (l *Lab) LocalValues(e *testenv.Env, name string, values map[string]any) (string, error) {
	if _, set := values["replicationRepository"]; !set && e.Cluster.Storage != nil {
		values = maps.Clone(values)
		values["replicationRepository"] = StorageValues(e, "s3")
	}
	b, err := json.MarshalIndent(values, "", "  ")
	if err != nil {
		return "", err
	}
	p := filepath.Join(e.Cluster.Dir, name)
	return p, os.WriteFile(p, b, 0o600)
}

// StorageValues is replicationRepository for the cluster's endpoint of a provider (aws, s3 and mcg
// use its S3 endpoint).
func StorageValues(e *testenv.Env, provider string) map[string]any {
	s := e.Cluster.Storage
	r := map[string]any{"enabled": true, "provider": provider, "caBundle": string(s.CA), "existingSecret": ""}
	switch provider {
	case "gcp":
		r["bucket"] = s.GCS.Bucket
		r["credentials"] = map[string]any{"gcpServiceAccountKey": string(s.GCS.ServiceAccountKey)}
	case "azure":
		r["azure"] = map[string]any{"resourceGroup": s.Azure.ResourceGroup, "storageAccount": s.Azure.StorageAccount, "storageContainer": s.Azure.Container}
		r["credentials"] = map[string]any{"azure": map[string]any{"tenantId": s.Azure.TenantID, "subscriptionId": s.Azure.SubscriptionID,
			"clientId": s.Azure.ClientID, "clientSecret": s.Azure.ClientSecret, "cloudName": "AzurePublicCloud"}}
	default:
		r["bucket"], r["region"], r["endpoint"], r["forcePathStyle"] = s.S3.Bucket, s.S3.Region, s.S3.URL, true
		r["credentials"] = map[string]any{"accessKeyId": s.S3.AccessKeyID, "secretAccessKey": s.S3.SecretAccessKey}
	}
	return r
}

// StorageOverride is the whole override of a provider: replicationRepository and, for gcp and azure,
// the storage check's endpoints (the MigStorage has no field for them).
func StorageOverride(e *testenv.Env, provider string) map[string]any {
	s := e.Cluster.Storage
	v := map[string]any{"replicationRepository": StorageValues(e, provider)}
	switch provider {
	case "gcp":
		v["hooks"] = map[string]any{"storageCheck": map[string]any{"endpoints": map[string]any{"gcs": s.GCS.URL}}}
	case "azure":
		v["hooks"] = map[string]any{"storageCheck": map[string]any{"endpoints": map[string]any{"azureBlob": s.Azure.BlobURL,
			"azureAuthorityHost": s.Azure.AuthorityHost, "azureResourceManager": s.Azure.ResourceManager}}}
	}
	return v
}

// Install runs helm install of chart (a chart name, installed from the cluster's OCI registry, or a
// chart directory) with the values files and checks what a user expects
// to see: the operator subscribed and Succeeded, the MigrationController applied, the
// replication repository Ready, the NetworkPolicies in place, NOTES and hook output printed.
func (l *Lab) Install(ctx context.Context, e *testenv.Env, chart string, values ...string) (string, error) {
	ref := chart
	if !strings.Contains(chart, "/") {
		ref = l.Chart(chart) // a chart name: the signed OCI artifact
	}
	args := []string{"install", "mtc", ref, "-n", Namespace, "--create-namespace", "--timeout", "4m"}
	for _, v := range values {
		args = append(args, "-f", v)
	}
	out, err := l.Run(ctx, e, "helm", args...)
	if err != nil {
		return out, err
	}
	l.Show(out, "STATUS:", "result:", "platform:", "check:")
	for _, want := range []string{"STATUS: deployed", "NOTES:"} {
		if !strings.Contains(out, want) {
			return out, fmt.Errorf("helm install output lacks %q", want)
		}
	}
	return out, nil
}

// CheckInstalled checks the objects an OLM install leaves: Subscription and CSV Succeeded, the
// MigrationController, MigStorage Ready when a repository is configured, NetworkPolicies.
func (l *Lab) CheckInstalled(ctx context.Context, e *testenv.Env, wantStorage bool, policyNamespaces ...string) error {
	sub, err := e.Dynamic.Resource(subscriptions).Namespace(Namespace).Get(ctx, "mtc-operator", metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("the Subscription mtc-operator is missing: %w", err)
	}
	installed, _, _ := unstructured.NestedString(sub.Object, "status", "installedCSV")
	csv, err := e.Dynamic.Resource(csvs).Namespace(Namespace).Get(ctx, installed, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("the installed CSV %q is missing: %w", installed, err)
	}
	phase, _, _ := unstructured.NestedString(csv.Object, "status", "phase")
	l.Say("operator: Subscription mtc-operator, channel %s, CSV %s %s", nested(sub, "spec", "channel"), installed, phase)
	if phase != "Succeeded" {
		return fmt.Errorf("CSV %s is %s, want Succeeded", installed, phase)
	}
	mc, err := e.Dynamic.Resource(migrationcontrollers).Namespace(Namespace).Get(ctx, "migration-controller", metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("the MigrationController is missing: %w", err)
	}
	l.Say("MigrationController migration-controller: cluster_name=%s migration_controller=%v", nested(mc, "spec", "cluster_name"), mc.Object["spec"].(map[string]any)["migration_controller"])
	if wantStorage {
		list, err := e.Dynamic.Resource(migstorages).Namespace(Namespace).List(ctx, metav1.ListOptions{})
		if err != nil || len(list.Items) == 0 {
			return fmt.Errorf("no MigStorage was applied (%v)", err)
		}
		for _, s := range list.Items {
			if !conditionTrue(&s, "Ready") {
				return fmt.Errorf("MigStorage %s is not Ready: %v", s.GetName(), s.Object["status"])
			}
			l.Say("MigStorage %s: Ready", s.GetName())
		}
	}
	for _, ns := range policyNamespaces {
		nps, err := e.Client.NetworkingV1().NetworkPolicies(ns).List(ctx, metav1.ListOptions{})
		if err != nil || len(nps.Items) == 0 {
			return fmt.Errorf("no NetworkPolicy in namespace %s (%v)", ns, err)
		}
		var names []string
		for _, np := range nps.Items {
			names = append(names, np.Name)
		}
		l.Say("NetworkPolicies in %s: %s", ns, strings.Join(names, ", "))
	}
	return nil
}

func nested(u *unstructured.Unstructured, fields ...string) string {
	s, _, _ := unstructured.NestedString(u.Object, fields...)
	return s
}

func conditionTrue(u *unstructured.Unstructured, typ string) bool {
	conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	for _, c := range conds {
		m, _ := c.(map[string]any)
		if m["type"] == typ && m["status"] == "True" {
			return true
		}
	}
	return false
}

// MigrationControllerSpec returns the spec of the MigrationController.
func MigrationControllerSpec(ctx context.Context, e *testenv.Env) (map[string]any, error) {
	mc, err := e.Dynamic.Resource(migrationcontrollers).Namespace(Namespace).Get(ctx, "migration-controller", metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	spec, _, _ := unstructured.NestedMap(mc.Object, "spec")
	return spec, nil
}

// EditByHand sets a spec field on the MigrationController as a user would with oc patch
// (another field manager than the chart's).
func EditByHand(ctx context.Context, e *testenv.Env, field string, value any) error {
	patch, _ := json.Marshal(map[string]any{"spec": map[string]any{field: value}})
	_, err := e.Dynamic.Resource(migrationcontrollers).Namespace(Namespace).Patch(ctx, "migration-controller", types.MergePatchType, patch, metav1.PatchOptions{FieldManager: "kubectl-patch"})
	return err
}

// SpecChanges lists the keys whose values differ between two specs, sorted. The operator's own
// writes (spec.version) are not changes a user made.
func SpecChanges(before, after map[string]any) []string {
	keys := map[string]bool{}
	for k := range before {
		keys[k] = true
	}
	for k := range after {
		keys[k] = true
	}
	var out []string
	for k := range keys {
		if k == "version" {
			continue
		}
		if !reflect.DeepEqual(before[k], after[k]) {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

// Allowed are the differences an uninstall may leave, each with its reason.
type Allowed func(d Difference) (reason string, ok bool)

// UninstallLeftovers explains what an uninstall leaves on purpose: the namespace that
// `--create-namespace` created (Helm never deletes it) and the exported migration records.
func UninstallLeftovers(createdNamespace bool) Allowed {
	return func(d Difference) (string, bool) {
		switch {
		case createdNamespace && d.Change == "added" && d.Key == "/namespaces /"+Namespace:
			return "namespace created by helm install --create-namespace; Helm keeps it", true
		case d.Change == "added" && strings.HasPrefix(d.Key, "/configmaps "+Namespace+"/mtc-export"):
			return "exported migration records", true
		}
		return "", false
	}
}

// SettleAndCompare takes snapshots until the garbage collector has removed what the deleted
// owners left (their Deployments, ReplicaSets, pods) or the timeout passes, then compares the
// last one with before.
func (l *Lab) SettleAndCompare(ctx context.Context, e *testenv.Env, before Snapshot, allowed Allowed, timeout time.Duration) error {
	start := time.Now()
	for {
		after, err := Take(ctx, e.Cluster.Config)
		if err != nil {
			return err
		}
		unexplained := 0
		for _, d := range Diff(before, after) {
			if _, ok := allowed(d); !ok {
				unexplained++
			}
		}
		if unexplained == 0 || time.Since(start) > timeout {
			if waited := time.Since(start); waited > time.Second {
				l.Say("waited %s for the garbage collector", waited.Round(100*time.Millisecond))
			}
			return l.CompareSnapshots(before, after, allowed)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

// CompareSnapshots prints the differences between before and after and fails on any the
// allowance does not explain.
func (l *Lab) CompareSnapshots(before, after Snapshot, allowed Allowed) error {
	l.Say("snapshot: %d objects before, %d after", len(before), len(after))
	var bad []string
	for _, d := range Diff(before, after) {
		if why, ok := allowed(d); ok {
			l.Say("  %-7s %s (%s)", d.Change, d.Key, why)
			continue
		}
		l.Say("  %-7s %s (UNEXPECTED)", d.Change, d.Key)
		bad = append(bad, d.Change+" "+d.Key)
	}
	if len(bad) > 0 {
		return fmt.Errorf("the uninstall left %d unexpected differences: %s", len(bad), strings.Join(bad, "; "))
	}
	l.Say("no other difference: the cluster is as it was before the install")
	return nil
}

// ReleaseObjectsAbsent checks that nothing of an MTC release exists in the namespace: no
// Subscription, no configure ConfigMap, no MigrationController.
func ReleaseObjectsAbsent(ctx context.Context, e *testenv.Env) error {
	if _, err := e.Dynamic.Resource(subscriptions).Namespace(Namespace).Get(ctx, "mtc-operator", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		return fmt.Errorf("Subscription mtc-operator exists (err %v)", err)
	}
	if _, err := e.Client.CoreV1().ConfigMaps(Namespace).Get(ctx, "mtc-configure", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		return fmt.Errorf("ConfigMap mtc-configure exists (err %v)", err)
	}
	return nil
}

// CreateNamespaces creates application namespaces, as a user's workloads have.
func CreateNamespaces(ctx context.Context, e *testenv.Env, names ...string) error {
	for _, n := range names {
		_, err := e.Client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: n}}, metav1.CreateOptions{})
		if err != nil && !apierrors.IsAlreadyExists(err) {
			return err
		}
	}
	return nil
}

// StartMigration creates a MigPlan and a MigMigration that the migration controller reports as
// running, as during a real migration.
func StartMigration(ctx context.Context, e *testenv.Env) error {
	plan := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "migration.openshift.io/v1alpha1", "kind": "MigPlan",
		"metadata": map[string]any{"name": "shop", "namespace": Namespace},
		"spec":     map[string]any{"namespaces": []any{"shop"}, "srcMigClusterRef": map[string]any{"name": "host", "namespace": Namespace}},
	}}
	if _, err := e.Dynamic.Resource(migplans).Namespace(Namespace).Create(ctx, plan, metav1.CreateOptions{}); err != nil {
		return err
	}
	mig := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "migration.openshift.io/v1alpha1", "kind": "MigMigration",
		"metadata": map[string]any{"name": "shop-1", "namespace": Namespace},
		"spec":     map[string]any{"migPlanRef": map[string]any{"name": "shop", "namespace": Namespace}, "stage": false},
	}}
	// MigMigration has no status subresource: mig-controller writes the status with the object.
	mig.Object["status"] = map[string]any{
		"phase":          "StageBackupCreated",
		"startTimestamp": time.Now().UTC().Format(time.RFC3339),
		"conditions": []any{map[string]any{"type": "Running", "status": "True", "category": "Advisory", "reason": "StageBackupCreated",
			"message": "Step: 12/48", "lastTransitionTime": time.Now().UTC().Format(time.RFC3339)}},
	}
	_, err := e.Dynamic.Resource(migmigrations).Namespace(Namespace).Create(ctx, mig, metav1.CreateOptions{})
	return err
}

// FinishMigration marks the running MigMigration Succeeded.
func FinishMigration(ctx context.Context, e *testenv.Env) error {
	return wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		m, err := e.Dynamic.Resource(migmigrations).Namespace(Namespace).Get(ctx, "shop-1", metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		now := time.Now().UTC().Format(time.RFC3339)
		m.Object["status"] = map[string]any{"phase": "Completed", "completionTimestamp": now,
			"conditions": []any{map[string]any{"type": "Succeeded", "status": "True", "category": "Advisory", "reason": "Completed", "message": "The migration has completed successfully.", "lastTransitionTime": now}}}
		_, err = e.Dynamic.Resource(migmigrations).Namespace(Namespace).Update(ctx, m, metav1.UpdateOptions{})
		if apierrors.IsConflict(err) {
			return false, nil
		}
		return err == nil, err
	})
}

// ExportedRecords lists the exported ConfigMaps the cleanup left, and whether they hold the
// named record.
func ExportedRecords(ctx context.Context, e *testenv.Env, mustHold string) ([]string, error) {
	cms, err := e.Client.CoreV1().ConfigMaps(Namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	var names []string
	found := mustHold == ""
	for _, cm := range cms.Items {
		if !strings.HasPrefix(cm.Name, "mtc-export") {
			continue
		}
		names = append(names, cm.Name)
		for _, v := range cm.Data {
			if strings.Contains(v, mustHold) {
				found = true
			}
		}
	}
	if !found {
		return names, errors.New("no exported record holds " + mustHold)
	}
	return names, nil
}

// InstallByHand installs MTC 1.8 the way the documented procedure does, outside Helm: an
// OperatorGroup and a Subscription named sub to release-v1.8, then, once OLM reports the CSV Succeeded, a
// MigrationController and a MigPlan of the user's. It returns when the operator has made the
// migration controller's Deployment.
func InstallByHand(ctx context.Context, e *testenv.Env, sub string) error {
	// The console names the OperatorGroup it makes after the namespace, with a random suffix; a name
	// other than the chart's keeps Helm from refusing it as an object it cannot adopt, so that the
	// version check is what refuses the release.
	if err := SubscribeByHand(ctx, e, Namespace, "migration", sub, "mtc-operator", "release-v1.8", 2); err != nil {
		return err
	}
	for _, o := range []struct {
		gvr schema.GroupVersionResource
		obj map[string]any
	}{
		{migrationcontrollers, map[string]any{"apiVersion": "migration.openshift.io/v1alpha1", "kind": "MigrationController",
			"metadata": map[string]any{"name": "migration-controller", "namespace": Namespace},
			"spec":     map[string]any{"cluster_name": "host", "migration_velero": true, "migration_controller": true, "migration_ui": true, "olm_managed": true}}},
		{migplans, map[string]any{"apiVersion": "migration.openshift.io/v1alpha1", "kind": "MigPlan",
			"metadata": map[string]any{"name": "hand-made", "namespace": Namespace},
			"spec":     map[string]any{"namespaces": []any{"shop"}, "srcMigClusterRef": map[string]any{"name": "host", "namespace": Namespace}}}},
	} {
		if _, err := e.Dynamic.Resource(o.gvr).Namespace(Namespace).Create(ctx, &unstructured.Unstructured{Object: o.obj}, metav1.CreateOptions{}); err != nil {
			return err
		}
	}
	return wait.PollUntilContextTimeout(ctx, time.Second, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
		d, err := e.Client.AppsV1().Deployments(Namespace).Get(ctx, "migration-controller", metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return false, nil
		}
		return err == nil && d.Status.AvailableReplicas > 0, err
	})
}

// SubscribeByHand does what a person does to install an operator through OLM: the namespace, an
// OperatorGroup named og for it alone and a Subscription named sub to pkg's channel in
// redhat-operators; it returns once the Subscription's CSV has Succeeded and OLM is done (every
// InstallPlan Complete, at least csvCount CSVs, each Succeeded).
func SubscribeByHand(ctx context.Context, e *testenv.Env, namespace, og, sub, pkg, channel string, csvCount int) error {
	if _, err := e.Client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace}}, metav1.CreateOptions{}); err != nil {
		return err
	}
	objs := []struct {
		gvr schema.GroupVersionResource
		obj map[string]any
	}{
		{schema.GroupVersionResource{Group: "operators.coreos.com", Version: "v1", Resource: "operatorgroups"}, map[string]any{
			"apiVersion": "operators.coreos.com/v1", "kind": "OperatorGroup", "metadata": map[string]any{"name": og, "namespace": namespace},
			"spec": map[string]any{"targetNamespaces": []any{namespace}}}},
		{subscriptions, map[string]any{
			"apiVersion": "operators.coreos.com/v1alpha1", "kind": "Subscription", "metadata": map[string]any{"name": sub, "namespace": namespace},
			"spec": map[string]any{"name": pkg, "channel": channel, "source": "redhat-operators", "sourceNamespace": "openshift-marketplace"}}},
	}
	for _, o := range objs {
		if _, err := e.Dynamic.Resource(o.gvr).Namespace(namespace).Create(ctx, &unstructured.Unstructured{Object: o.obj}, metav1.CreateOptions{}); err != nil {
			return err
		}
	}
	err := wait.PollUntilContextTimeout(ctx, time.Second, 4*time.Minute, true, func(ctx context.Context) (bool, error) {
		s, err := e.Dynamic.Resource(subscriptions).Namespace(namespace).Get(ctx, sub, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		name := nested(s, "status", "installedCSV")
		if name == "" {
			return false, nil
		}
		csv, err := e.Dynamic.Resource(csvs).Namespace(namespace).Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return false, nil
		}
		return err == nil && nested(csv, "status", "phase") == "Succeeded", err
	})
	if err != nil {
		return fmt.Errorf("the hand-made Subscription %s/%s did not reach a Succeeded CSV: %w", namespace, sub, err)
	}
	installplans := schema.GroupVersionResource{Group: "operators.coreos.com", Version: "v1alpha1", Resource: "installplans"}
	err = wait.PollUntilContextTimeout(ctx, time.Second, 4*time.Minute, true, func(ctx context.Context) (bool, error) {
		ips, err := e.Dynamic.Resource(installplans).Namespace(namespace).List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, err
		}
		for i := range ips.Items {
			if nested(&ips.Items[i], "status", "phase") != "Complete" {
				return false, nil
			}
		}
		list, err := e.Dynamic.Resource(csvs).Namespace(namespace).List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, err
		}
		for i := range list.Items {
			if nested(&list.Items[i], "status", "phase") != "Succeeded" {
				return false, nil
			}
		}
		return len(ips.Items) > 0 && len(list.Items) >= csvCount, nil
	})
	if err != nil {
		return fmt.Errorf("OLM did not finish the hand-made install in %s (InstallPlans Complete, %d CSVs Succeeded): %w", namespace, csvCount, err)
	}
	return nil
}

// RefusedInstallLeftovers explains what a refused install and the uninstall after it may leave on a
// cluster whose MTC was installed by hand: the failed hook's Job and pod, kept for their log.
func RefusedInstallLeftovers(d Difference) (string, bool) {
	if d.Change == "added" && (strings.HasPrefix(d.Key, "batch/jobs "+Namespace+"/mtc-hook-version-check") || strings.HasPrefix(d.Key, "/pods "+Namespace+"/mtc-hook-version-check-")) {
		return "the refused hook's Job and pod, kept for their log", true
	}
	return "", false
}
