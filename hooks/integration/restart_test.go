package integration

import (
	"context"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"

	"github.com/mtc-helm/mtc-helm/hooks/kube"
	"github.com/mtc-helm/mtc-helm/internal/testenv"
)

const configureObjects = `apiVersion: migration.openshift.io/v1alpha1
kind: MigrationController
metadata:
  name: migration-controller
  namespace: openshift-migration
spec:
  cluster_name: host
  migration_velero: true
  migration_controller: true
  migration_ui: true
  mig_pod_limit: "100"
---
apiVersion: migration.openshift.io/v1alpha1
kind: MigStorage
metadata:
  name: repo
  namespace: openshift-migration
spec:
  backupStorageProvider: aws
  backupStorageConfig:
    awsBucketName: "@bucket@"
    awsRegion: "@region@"
    awsS3Url: "@url@"
    awsS3ForcePathStyle: true
    s3CustomCABundle: "@ca@"
    credsSecretRef: {name: repo-credentials, namespace: openshift-migration}
`

// objectsFor points configureObjects' MigStorage at the cluster's S3 bucket, which mig-controller's
// double writes to before it calls the MigStorage Ready.
func objectsFor(e *testenv.Env) string {
	s := e.Cluster.Storage
	return strings.NewReplacer("@bucket@", s.S3.Bucket, "@region@", s.S3.Region, "@url@", s.S3.URL,
		"@ca@", base64.StdEncoding.EncodeToString(s.CA)).Replace(configureObjects)
}

// TestIntegrationConfigureSurvivesAPIServerRestart restarts the API server while configure waits for the
// real OLM to install the operator; configure keeps waiting and then applies its objects, which the
// operator and mig-controller doubles (as their pods) reconcile. A second run, as on helm upgrade with an
// override, changes exactly the fields that changed.
func TestIntegrationConfigureSurvivesAPIServerRestart(t *testing.T) {
	e := doublesEnv(t, "ocp4:4.17")
	cluster := e.Cluster
	kc, dyn := e.Client, e.Dynamic
	w := newWorld(t, kc, dyn)
	w.namespace(ns)
	ctx := context.Background()
	if _, err := kc.CoreV1().Secrets(ns).Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "repo-credentials", Namespace: ns},
		StringData: map[string]string{"aws-access-key-id": e.Cluster.Storage.S3.AccessKeyID, "aws-secret-access-key": e.Cluster.Storage.S3.SecretAccessKey},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := kc.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "mtc-configure", Namespace: ns},
		Data:       map[string]string{"operator.yaml": "{mode: olm, subscription: mtc-operator, line: \"1.8\"}", "objects.yaml": objectsFor(e)},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	w.obj(operatorGroups, "OperatorGroup", ns, ns, map[string]any{"targetNamespaces": []any{ns}}, nil)
	w.obj(kube.Subscriptions, "Subscription", ns, "mtc-operator",
		map[string]any{"name": "mtc-operator", "channel": "release-v1.8", "source": "redhat-operators", "sourceNamespace": "openshift-marketplace"}, nil)

	cmd, out, errb := hooksCmd(t, cluster.Kubeconfig, "configure", "--interval", "500ms", "--timeout", "3m")
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	rctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	if err := cluster.RestartAPIServer(rctx, 3*time.Second); err != nil {
		t.Fatalf("restart the API server: %v", err)
	}
	// The hook must still be running now that the API server is back: it lived through the downtime.
	select {
	case err := <-exited:
		t.Fatalf("configure ended (%v) before the API server was back, so the restart proved nothing:\n%s%s", err, out, errb)
	default:
	}
	t.Logf("API server restarted after %s, with configure still running", time.Since(start).Round(time.Millisecond))

	r := finish(t, cmd, out, errb, <-exited, start)
	wantExit(t, r, 0, "operator: OLM, CSV mtc-operator.v1.8.11 Succeeded", "applied:  MigrationController openshift-migration/migration-controller: reconciled",
		"applied:  MigStorage openshift-migration/repo: Ready")
	u, err := dyn.Resource(kube.MigrationControllers).Namespace(ns).Get(ctx, "migration-controller", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	managers := map[string]bool{}
	for _, m := range u.GetManagedFields() {
		managers[m.Manager+"/"+string(m.Operation)] = true
	}
	if !managers[kube.FieldManager+"/Apply"] {
		t.Errorf("the MigrationController was not server-side applied by %s: %v", kube.FieldManager, managers)
	}

	// An upgrade with an override: a field changes, one is dropped from the values; a field set by hand
	// that we do not own survives.
	hand := []byte(`{"spec":{"mig_namespace_limit":"25"}}`)
	if _, err := dyn.Resource(kube.MigrationControllers).Namespace(ns).Patch(ctx, "migration-controller", types.MergePatchType, hand,
		metav1.PatchOptions{FieldManager: "kubectl-edit"}); err != nil {
		t.Fatal(err)
	}
	upgraded := strings.Replace(objectsFor(e), "  mig_pod_limit: \"100\"\n", "  mig_pv_limit: \"300\"\n", 1)
	cm, err := kc.CoreV1().ConfigMaps(ns).Get(ctx, "mtc-configure", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cm.Data["objects.yaml"] = upgraded
	if _, err := kc.CoreV1().ConfigMaps(ns).Update(ctx, cm, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	r = hooks(t, cluster.Kubeconfig, "configure", "--interval", "300ms", "--timeout", "1m")
	wantExit(t, r, 0, "result:   ok")
	u, err = dyn.Resource(kube.MigrationControllers).Namespace(ns).Get(ctx, "migration-controller", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	spec, _, _ := unstructured.NestedMap(u.Object, "spec")
	if spec["mig_pv_limit"] != "300" {
		t.Errorf("the override did not reach the MigrationController: %v", spec)
	}
	if _, still := spec["mig_pod_limit"]; still {
		t.Errorf("a field dropped from the values stayed: %v", spec)
	}
	if spec["mig_namespace_limit"] != "25" || spec["cluster_name"] != "host" {
		t.Errorf("a field set by hand, or one we did not change, was lost: %v", spec)
	}
}
