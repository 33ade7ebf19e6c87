package mtcoperator_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	authenticationv1 "k8s.io/api/authentication/v1"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"

	"github.com/mtc-helm/mtc-helm/internal/doubles/conditions"
	op "github.com/mtc-helm/mtc-helm/internal/doubles/mtcoperator"
	"github.com/mtc-helm/mtc-helm/internal/localcluster"
	"github.com/mtc-helm/mtc-helm/internal/mtccrds"
	"github.com/mtc-helm/mtc-helm/internal/registry"
	"github.com/mtc-helm/mtc-helm/internal/testenv"
	dt "github.com/mtc-helm/mtc-helm/internal/testenv/envtest"
)

func TestMain(m *testing.M) { dt.Main(m) }

const (
	ns   = op.Namespace
	wait = 90 * time.Second
)

var (
	deployments         = schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}
	daemonSets          = schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "daemonsets"}
	clusterRoles        = schema.GroupVersionResource{Group: "rbac.authorization.k8s.io", Version: "v1", Resource: "clusterroles"}
	clusterRoleBindings = schema.GroupVersionResource{Group: "rbac.authorization.k8s.io", Version: "v1", Resource: "clusterrolebindings"}
	serviceAccounts     = schema.GroupVersionResource{Version: "v1", Resource: "serviceaccounts"}
)

func controller(spec map[string]any) *unstructured.Unstructured {
	return dt.Obj("migration.openshift.io/v1alpha1", "MigrationController", ns, "migration-controller", map[string]any{"spec": spec})
}

func migObj(kind, name string, spec map[string]any) *unstructured.Unstructured {
	return dt.Obj("migration.openshift.io/v1alpha1", kind, ns, name, map[string]any{"spec": spec})
}

func secret(t *testing.T, e *testenv.Env, name string, data map[string]string) {
	t.Helper()
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}, StringData: data}
	if _, err := e.Client.CoreV1().Secrets(ns).Create(context.Background(), s, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// putSecret replaces the data of a Secret.
func putSecret(t *testing.T, e *testenv.Env, name string, data map[string]string) {
	t.Helper()
	s, err := e.Client.CoreV1().Secrets(ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	s.Data, s.StringData = nil, data
	if _, err := e.Client.CoreV1().Secrets(ns).Update(context.Background(), s, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// saToken returns a token of a new ServiceAccount of the namespace, bound to cluster-admin when admin.
func saToken(t *testing.T, e *testenv.Env, name string, admin bool) string {
	t.Helper()
	ctx := context.Background()
	if _, err := e.Client.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if admin {
		crb := &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "test-" + name},
			RoleRef:  rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: "cluster-admin"},
			Subjects: []rbacv1.Subject{{Kind: "ServiceAccount", Name: name, Namespace: ns}}}
		if _, err := e.Client.RbacV1().ClusterRoleBindings().Create(ctx, crb, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			_ = e.Client.RbacV1().ClusterRoleBindings().Delete(context.Background(), crb.Name, metav1.DeleteOptions{})
		})
	}
	tok, err := e.Client.CoreV1().ServiceAccounts(ns).CreateToken(ctx, name, &authenticationv1.TokenRequest{}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return tok.Status.Token
}

func exists(ctx context.Context, e *testenv.Env, gvr schema.GroupVersionResource, namespace, name string) (bool, string) {
	u, note := dt.Get(ctx, e, gvr, namespace, name)
	return u != nil && u.GetDeletionTimestamp() == nil, note
}

func ready(t *testing.T, e *testenv.Env, gvr schema.GroupVersionResource, name string) {
	t.Helper()
	dt.Eventually(t, wait, gvr.Resource+" "+name+" Ready", func(ctx context.Context) (bool, string) {
		u, note := dt.Get(ctx, e, gvr, ns, name)
		if u == nil {
			return false, note
		}
		return conditions.IsTrue(u, "Ready"), fmt.Sprint(u.Object["status"])
	})
}

func critical(t *testing.T, e *testenv.Env, gvr schema.GroupVersionResource, name, typ string) {
	t.Helper()
	dt.Eventually(t, wait, gvr.Resource+" "+name+" Critical "+typ, func(ctx context.Context) (bool, string) {
		u, note := dt.Get(ctx, e, gvr, ns, name)
		if u == nil {
			return false, note
		}
		c := conditions.Get(u, typ)
		return c != nil && c["category"] == "Critical" && !conditions.IsTrue(u, "Ready"), fmt.Sprint(u.Object["status"])
	})
}

// testFailed waits for the MigStorage's BackupStorageProviderTestFailed condition, whose message holds
// the S3 error, as mig-controller's does.
func testFailed(t *testing.T, e *testenv.Env, name, want string) {
	t.Helper()
	dt.Eventually(t, wait, "MigStorage "+name+" BackupStorageProviderTestFailed with "+want, func(ctx context.Context) (bool, string) {
		u, note := dt.Get(ctx, e, op.MigStorages, ns, name)
		if u == nil {
			return false, note
		}
		c := conditions.Get(u, "BackupStorageProviderTestFailed")
		msg, _ := c["message"].(string)
		return c != nil && strings.Contains(msg, want) && strings.HasPrefix(msg, "The `backupStorageConfig` settings [") && !conditions.IsTrue(u, "Ready"), fmt.Sprint(u.Object["status"])
	})
}

func ownedByController(t *testing.T, u *unstructured.Unstructured, mc *unstructured.Unstructured) {
	t.Helper()
	if !slices.ContainsFunc(u.GetOwnerReferences(), func(r metav1.OwnerReference) bool { return r.UID == mc.GetUID() }) {
		t.Errorf("%s %s is not owned by the MigrationController: %v", u.GetKind(), u.GetName(), u.GetOwnerReferences())
	}
	if u.GetAnnotations()[op.DoubleAnnotation] != "mtc-operator" {
		t.Errorf("%s %s lacks the double annotation", u.GetKind(), u.GetName())
	}
}

func patchSpec(t *testing.T, e *testenv.Env, gvr schema.GroupVersionResource, name, spec string) {
	t.Helper()
	if _, err := e.Dynamic.Resource(gvr).Namespace(ns).Patch(context.Background(), name, types.MergePatchType, []byte(`{"spec":`+spec+`}`), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
}

// TestIntegrationOperatorDoubleOCP4 installs MTC 1.8 through the real OLM on OpenShift 4.17 and
// drives the MTC operator double through what the hooks see: reconcile, readiness, closing plans,
// the DVM finalizer and the garbage collection of a deleted MigrationController.
func TestIntegrationOperatorDoubleOCP4(t *testing.T) {
	e := dt.DoublesEnv(t, localcluster.Flavour{Kind: localcluster.OCP4, Version: "4.17"})
	ctx := context.Background()
	dt.Namespace(t, e, ns)

	// Nothing happens before the operator runs.
	if err := mtccrds.Install(ctx, e.Dynamic, "", mtccrds.MTC); err != nil {
		t.Fatal(err)
	}
	mc := dt.Create(t, e, op.MigrationControllers, controller(map[string]any{
		"cluster_name": "host", "migration_velero": true, "migration_controller": true, "migration_ui": true, "restic_timeout": "1h",
	}))
	dt.Never(t, 2*time.Second, "reconciled without an operator", func(ctx context.Context) (bool, string) {
		u, _ := dt.Get(ctx, e, op.MigrationControllers, ns, mc.GetName())
		return u != nil && dt.Str(u, "spec", "version") != "", "spec.version written"
	})

	dt.Create(t, e, dt.OperatorGroups, dt.Obj("operators.coreos.com/v1", "OperatorGroup", ns, ns, map[string]any{"spec": map[string]any{"targetNamespaces": []any{ns}}}))
	dt.Create(t, e, dt.Subscriptions, dt.Obj("operators.coreos.com/v1alpha1", "Subscription", ns, "mtc-operator", map[string]any{"spec": map[string]any{
		"name": "mtc-operator", "channel": "release-v1.8", "source": "redhat-operators", "sourceNamespace": "openshift-marketplace"}}))

	dt.Eventually(t, 2*wait, "MigrationController reconciled by 1.8.11", func(ctx context.Context) (bool, string) {
		u, note := dt.Get(ctx, e, op.MigrationControllers, ns, mc.GetName())
		if u == nil {
			return false, note
		}
		c := conditions.Get(u, "Running")
		return conditions.IsTrue(u, "Successful") && c != nil && c["reason"] == "Successful" && dt.Str(u, "spec", "version") == "1.8.11", fmt.Sprint(u.Object["status"], dt.Str(u, "spec", "version"))
	})
	for _, name := range []string{op.ControllerName, op.UIName, op.LogReaderName} {
		u, note := dt.Get(ctx, e, deployments, ns, name)
		if u == nil {
			t.Fatal(note)
		}
		ownedByController(t, u, mc)
	}
	dpa, note := dt.Get(ctx, e, op.DPAs, ns, "velero")
	if dpa == nil {
		t.Fatal(note)
	}
	ownedByController(t, dpa, mc)
	if dt.Str(dpa, "spec", "unsupportedOverrides", "operator-type") != "mtc" {
		t.Errorf("DPA velero: %v", dpa.Object["spec"])
	}
	ready(t, e, op.MigClusters, "host")

	t.Run("MigStorage and remote MigCluster readiness", func(t *testing.T) {
		s3 := e.Cluster.Storage.S3
		config := map[string]any{"awsBucketName": s3.Bucket, "awsRegion": s3.Region, "awsS3Url": s3.URL,
			"s3CustomCABundle": base64.StdEncoding.EncodeToString(e.Cluster.Storage.CA), "credsSecretRef": map[string]any{"name": "repo-creds", "namespace": ns}}
		dt.Create(t, e, op.MigStorages, migObj("MigStorage", "repo", map[string]any{
			"backupStorageProvider": "aws", "volumeSnapshotProvider": "aws", "backupStorageConfig": config,
		}))
		critical(t, e, op.MigStorages, "repo", "InvalidBSCredsSecretRef")
		secret(t, e, "repo-creds", map[string]string{"aws-access-key-id": s3.AccessKeyID})
		critical(t, e, op.MigStorages, "repo", "InvalidBSCredsSecret")
		// The keys are there but wrong: the controller's write to the bucket fails.
		if _, err := e.Client.CoreV1().Secrets(ns).Patch(ctx, "repo-creds", types.MergePatchType, []byte(`{"stringData":{"aws-secret-access-key":"wrong"}}`), metav1.PatchOptions{}); err != nil {
			t.Fatal(err)
		}
		testFailed(t, e, "repo", "The request signature we calculated does not match")
		if _, err := e.Client.CoreV1().Secrets(ns).Patch(ctx, "repo-creds", types.MergePatchType, []byte(`{"stringData":{"aws-secret-access-key":"`+s3.SecretAccessKey+`"}}`), metav1.PatchOptions{}); err != nil {
			t.Fatal(err)
		}
		ready(t, e, op.MigStorages, "repo")
		// A bucket that does not exist: tested again as soon as the spec changes.
		patchSpec(t, e, op.MigStorages, "repo", `{"backupStorageConfig":{"awsBucketName":"no-such-bucket"}}`)
		testFailed(t, e, "repo", "The specified bucket does not exist")
		patchSpec(t, e, op.MigStorages, "repo", `{"backupStorageConfig":{"awsBucketName":"`+s3.Bucket+`"}}`)
		ready(t, e, op.MigStorages, "repo")

		// gcp and azure go to the lab's stand-ins for Google's and Azure's endpoints: a key the service
		// account never had, then a container that does not exist, fail the controller's test.
		st := e.Cluster.Storage
		secret(t, e, "gcp-creds", map[string]string{"gcp-credentials": string(st.GCS.OtherKey)})
		dt.Create(t, e, op.MigStorages, migObj("MigStorage", "gcs", map[string]any{
			"backupStorageProvider": "gcp", "volumeSnapshotProvider": "gcp",
			"backupStorageConfig": map[string]any{"gcpBucket": st.GCS.Bucket, "credsSecretRef": map[string]any{"name": "gcp-creds", "namespace": ns}},
		}))
		testFailed(t, e, "gcs", "invalid_grant")
		if _, err := e.Client.CoreV1().Secrets(ns).Patch(ctx, "gcp-creds", types.MergePatchType, []byte(`{"stringData":{"gcp-credentials":`+strconv.Quote(string(st.GCS.ServiceAccountKey))+`}}`), metav1.PatchOptions{}); err != nil {
			t.Fatal(err)
		}
		ready(t, e, op.MigStorages, "gcs")
		a := &st.Azure
		secret(t, e, "azure-creds", map[string]string{"azure-credentials": a.CredentialsFile(a.ClientSecret)})
		dt.Create(t, e, op.MigStorages, migObj("MigStorage", "blob", map[string]any{
			"backupStorageProvider": "azure", "volumeSnapshotProvider": "azure",
			"backupStorageConfig": map[string]any{"azureResourceGroup": a.ResourceGroup, "azureStorageAccount": a.StorageAccount,
				"azureStorageContainer": "no-such-container", "credsSecretRef": map[string]any{"name": "azure-creds", "namespace": ns}},
		}))
		testFailed(t, e, "blob", "ContainerNotFound")
		patchSpec(t, e, op.MigStorages, "blob", `{"backupStorageConfig":{"azureStorageContainer":"`+a.Container+`"}}`)
		ready(t, e, op.MigStorages, "blob")

		dt.Create(t, e, op.MigClusters, migObj("MigCluster", "source", map[string]any{
			"isHostCluster": false, "url": "https://source.example.com:6443", "serviceAccountSecretRef": map[string]any{"name": "source-token", "namespace": ns},
		}))
		critical(t, e, op.MigClusters, "source", "InvalidSaSecretRef")
		secret(t, e, "source-token", map[string]string{"saToken": "token"})
		critical(t, e, op.MigClusters, "source", "TestConnectFailed")
		// The lab's API server plays the remote: a token it does not know cannot connect; a
		// ServiceAccount's without rights on migration.openshift.io and velero.io is refused.
		ca := base64.StdEncoding.EncodeToString(e.Cluster.Config.CAData)
		patchSpec(t, e, op.MigClusters, "source", `{"url":"`+e.Cluster.URL+`","caBundle":"`+ca+`"}`)
		dt.Eventually(t, wait, "TestConnectFailed for the lab's API server with an unknown token", func(ctx context.Context) (bool, string) {
			u, note := dt.Get(ctx, e, op.MigClusters, ns, "source")
			if u == nil {
				return false, note
			}
			msg, _ := conditions.Get(u, "TestConnectFailed")["message"].(string)
			return strings.HasPrefix(msg, "Test connect failed: ") && strings.Contains(msg, "provide credentials"), fmt.Sprint(u.Object["status"])
		})
		putSecret(t, e, "source-token", map[string]string{"saToken": saToken(t, e, "no-rights", false)})
		critical(t, e, op.MigClusters, "source", "SaTokenNotPrivileged")
		putSecret(t, e, "source-token", map[string]string{"saToken": saToken(t, e, "remote-admin", true)})
		ready(t, e, op.MigClusters, "source")
	})

	t.Run("a closed MigPlan gets Closed", func(t *testing.T) {
		dt.Create(t, e, op.MigPlans, migObj("MigPlan", "plan", map[string]any{"closed": true}))
		dt.Eventually(t, wait, "MigPlan Closed", func(ctx context.Context) (bool, string) {
			u, note := dt.Get(ctx, e, op.MigPlans, ns, "plan")
			return u != nil && conditions.IsTrue(u, "Closed"), note
		})
	})

	// mig-controller closes a plan only once DeleteResources went through on every Ready cluster it
	// names: a Ready remote that cannot be reached keeps it from Closed, with no condition to say so.
	t.Run("a closed MigPlan waits for its Ready remote", func(t *testing.T) {
		r := newRelay(t, strings.TrimPrefix(e.Cluster.URL, "https://"))
		ca := base64.StdEncoding.EncodeToString(e.Cluster.Config.CAData)
		secret(t, e, "relayed-token", map[string]string{"saToken": saToken(t, e, "relayed-admin", true)})
		dt.Create(t, e, op.MigClusters, migObj("MigCluster", "relayed", map[string]any{
			"isHostCluster": false, "url": "https://" + r.addr, "caBundle": ca,
			"serviceAccountSecretRef": map[string]any{"name": "relayed-token", "namespace": ns},
		}))
		ready(t, e, op.MigClusters, "relayed")
		r.cut()
		dt.Create(t, e, op.MigPlans, migObj("MigPlan", "plan-relayed", map[string]any{"closed": true,
			"srcMigClusterRef": map[string]any{"name": "relayed", "namespace": ns}, "destMigClusterRef": map[string]any{"name": "host", "namespace": ns}}))
		closed := func(ctx context.Context) (bool, string) {
			u, note := dt.Get(ctx, e, op.MigPlans, ns, "plan-relayed")
			return u != nil && conditions.IsTrue(u, "Closed"), note
		}
		dt.Never(t, 3*time.Second, "MigPlan Closed while its Ready remote cannot be reached", closed)
		r.restore()
		dt.Eventually(t, wait, "MigPlan Closed once the remote answers", closed)
		u, _ := dt.Get(ctx, e, op.MigPlans, ns, "plan-relayed")
		if reason, ok := conditions.Get(u, "Closed")["reason"]; ok {
			t.Errorf("Closed carries reason %v; mig-controller sets none", reason)
		}
	})

	t.Run("the DVM finalizer goes only while the controller runs", func(t *testing.T) {
		finalized := func(name string) {
			t.Helper()
			dt.Eventually(t, wait, "DVM "+name+" carries the finalizer", func(ctx context.Context) (bool, string) {
				u, note := dt.Get(ctx, e, op.DVMs, ns, name)
				return u != nil && slices.Contains(u.GetFinalizers(), op.DVMFinalizer), note
			})
		}
		dt.Create(t, e, op.DVMs, migObj("DirectVolumeMigration", "dvm-1", map[string]any{}))
		finalized("dvm-1")
		if err := e.Dynamic.Resource(op.DVMs).Namespace(ns).Delete(ctx, "dvm-1", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		dt.Eventually(t, wait, "DVM deleted while the controller runs", func(ctx context.Context) (bool, string) { return dt.Gone(ctx, e, op.DVMs, ns, "dvm-1") })

		dt.Create(t, e, op.DVMs, migObj("DirectVolumeMigration", "dvm-2", map[string]any{}))
		finalized("dvm-2")
		patchSpec(t, e, op.MigrationControllers, mc.GetName(), `{"migration_controller":false}`)
		dt.Eventually(t, wait, "controller removed", func(ctx context.Context) (bool, string) {
			return dt.Gone(ctx, e, deployments, ns, op.ControllerName)
		})
		if err := e.Dynamic.Resource(op.DVMs).Namespace(ns).Delete(ctx, "dvm-2", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		dt.Never(t, 3*time.Second, "DVM deleted without a controller", func(ctx context.Context) (bool, string) {
			ok, note := dt.Gone(ctx, e, op.DVMs, ns, "dvm-2")
			return ok, note
		})
		patchSpec(t, e, op.MigrationControllers, mc.GetName(), `{"migration_controller":true}`)
		dt.Eventually(t, wait, "DVM deleted once the controller is back", func(ctx context.Context) (bool, string) { return dt.Gone(ctx, e, op.DVMs, ns, "dvm-2") })

		// A DVM whose remote cannot be connected to keeps the finalizer while the controller runs.
		dt.Create(t, e, op.DVMs, migObj("DirectVolumeMigration", "dvm-3", map[string]any{
			"srcMigClusterRef": map[string]any{"name": "source", "namespace": ns}, "destMigClusterRef": map[string]any{"name": "host", "namespace": ns}}))
		finalized("dvm-3")
		patchSpec(t, e, op.MigClusters, "source", `{"url":"https://127.0.0.1:1"}`)
		critical(t, e, op.MigClusters, "source", "TestConnectFailed")
		if err := e.Dynamic.Resource(op.DVMs).Namespace(ns).Delete(ctx, "dvm-3", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		dt.Never(t, 3*time.Second, "DVM deleted while its remote is unreachable", func(ctx context.Context) (bool, string) {
			return dt.Gone(ctx, e, op.DVMs, ns, "dvm-3")
		})
		patchSpec(t, e, op.MigClusters, "source", `{"url":"`+e.Cluster.URL+`"}`)
		dt.Eventually(t, wait, "DVM deleted once its remote answers", func(ctx context.Context) (bool, string) { return dt.Gone(ctx, e, op.DVMs, ns, "dvm-3") })
	})

	t.Run("deleting the MigrationController collects its namespaced objects only", func(t *testing.T) {
		for _, c := range []struct {
			gvr  schema.GroupVersionResource
			name string
		}{{op.SCCs, "rsync-anyuid"}, {op.OAuthClients, "migration"}} {
			if ok, note := exists(ctx, e, c.gvr, "", c.name); !ok {
				t.Fatalf("before the delete: %s", note)
			}
		}
		if err := e.Dynamic.Resource(op.MigrationControllers).Namespace(ns).Delete(ctx, mc.GetName(), metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct {
			gvr  schema.GroupVersionResource
			name string
		}{{deployments, op.ControllerName}, {deployments, op.UIName}, {deployments, op.LogReaderName}, {op.DPAs, "velero"}, {op.MigClusters, "host"}} {
			dt.Eventually(t, wait, c.gvr.Resource+" "+c.name+" garbage-collected", func(ctx context.Context) (bool, string) { return dt.Gone(ctx, e, c.gvr, ns, c.name) })
		}
		for _, c := range []struct {
			gvr  schema.GroupVersionResource
			name string
		}{{op.SCCs, "rsync-anyuid"}, {op.OAuthClients, "migration"}} {
			if ok, note := exists(ctx, e, c.gvr, "", c.name); !ok {
				t.Errorf("cluster-scoped %s should stay behind: %s", c.name, note)
			}
		}
	})
}

// TestIntegrationOperatorDoubleOCP3 plays the legacy 1.7 operator on OpenShift 3.11: the version
// written before Velero, Velero (Deployment and the restic DaemonSet) installed by the operator
// itself and removed with migration_velero false, no controller or web console, no status, and
// cluster-scoped leftovers after the MigrationController is deleted.
func TestIntegrationOperatorDoubleOCP3(t *testing.T) {
	e := dt.DoublesEnv(t, localcluster.Flavour{Kind: localcluster.OCP3})
	ctx := context.Background()
	dt.Namespace(t, e, ns)
	if err := mtccrds.Install(ctx, e.Dynamic, "", mtccrds.MTC[:1]); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Client.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: op.OperatorName}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// The double runs as the operator's pod with this ServiceAccount. First it may do everything in
	// the namespace but not create CRDs, so Velero (whose CRDs come first) cannot be installed yet;
	// then it gets cluster-admin. The chart's own legacy ClusterRole is what the lifecycle tests on
	// 3.11 prove (an install, and one refused when a rule is missing).
	bind := func(name, role string) {
		t.Helper()
		if _, err := e.Client.RbacV1().ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: name},
			RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: role},
			Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Name: op.OperatorName, Namespace: ns}},
		}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.Client.RbacV1().ClusterRoles().Create(ctx, &rbacv1.ClusterRole{
		ObjectMeta: metav1.ObjectMeta{Name: "legacy-operator-test-no-crds"},
		Rules: []rbacv1.PolicyRule{
			{APIGroups: []string{"", "apps", "migration.openshift.io"}, Resources: []string{"*"}, Verbs: []string{"*"}},
			{APIGroups: []string{"apiextensions.k8s.io"}, Resources: []string{"customresourcedefinitions"}, Verbs: []string{"get", "list", "watch"}},
		},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	bind("legacy-operator-test-no-crds", "legacy-operator-test-no-crds")
	one := int32(1)
	labels := map[string]string{"app": "migration"}
	// Red Hat's operator.yml pins Velero by digest: <repo>@sha256 and the hex digest, which the role
	// joins with ':'. The digest is the lab registry's for the image.
	const veleroImage = "registry.redhat.io/rhmtc/openshift-migration-velero-rhel8"
	desc, err := e.Registry.Get(ctx, veleroImage+":v1.7", [][]byte{registry.DockerConfigJSON("registry.redhat.io", e.Registry.Username, e.Registry.Password)})
	if err != nil {
		t.Fatal(err)
	}
	pinned := veleroImage + "@" + desc.Digest.String()
	legacy := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: op.OperatorName, Namespace: ns, Labels: labels},
		Spec: appsv1.DeploymentSpec{Replicas: &one, Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: corev1.PodSpec{
				ServiceAccountName: op.OperatorName,
				Containers: []corev1.Container{{Name: "operator", Image: "registry.redhat.io/rhmtc/openshift-migration-legacy-rhel8-operator:v1.7",
					Env: []corev1.EnvVar{{Name: "REGISTRY", Value: "registry.redhat.io"}, {Name: "PROJECT", Value: "rhmtc"},
						{Name: "VELERO_REPO", Value: "openshift-migration-velero-rhel8@sha256"}, {Name: "VELERO_TAG", Value: desc.Digest.Hex}}}},
			}}},
	}
	if _, err := e.Client.AppsV1().Deployments(ns).Create(ctx, legacy, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	mc := dt.Create(t, e, op.MigrationControllers, controller(map[string]any{
		"migration_velero": true, "migration_controller": true, "migration_ui": true, "migration_log_reader": true, "cluster_name": "host",
	}))
	// The role writes its version before anything of Velero: here Velero cannot be installed, and the
	// version is written all the same.
	dt.Eventually(t, 2*wait, "spec.version written by the legacy operator", func(ctx context.Context) (bool, string) {
		u, note := dt.Get(ctx, e, op.MigrationControllers, ns, mc.GetName())
		if u == nil {
			return false, note
		}
		return dt.Str(u, "spec", "version") == op.LegacyVersion, "spec.version " + dt.Str(u, "spec", "version")
	})
	crdGVR := schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1beta1", Resource: "customresourcedefinitions"}
	for _, c := range []struct {
		gvr        schema.GroupVersionResource
		namespace  string
		name, what string
	}{
		{crdGVR, "", mtccrds.Velero[0].Name(), "a velero.io CRD"},
		{deployments, ns, op.VeleroName, "Deployment velero"},
		{daemonSets, ns, op.ResticName, "DaemonSet restic"},
	} {
		if ok, _ := exists(ctx, e, c.gvr, c.namespace, c.name); ok {
			t.Fatalf("%s exists although the operator may not create CRDs", c.what)
		}
	}
	bind("legacy-operator-test", "cluster-admin")

	// Velero once the operator may install it: restic runs on the node, as the legacy role renders
	// it for Kubernetes 1.11.
	dt.Eventually(t, wait, "DaemonSet restic ready on the node", func(ctx context.Context) (bool, string) {
		ds, err := e.Client.AppsV1().DaemonSets(ns).Get(ctx, op.ResticName, metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		st := ds.Status
		return st.ObservedGeneration >= ds.Generation && st.DesiredNumberScheduled > 0 && st.NumberReady == st.DesiredNumberScheduled,
			fmt.Sprintf("%d/%d ready", st.NumberReady, st.DesiredNumberScheduled)
	})
	restic, err := e.Client.AppsV1().DaemonSets(ns).Get(ctx, op.ResticName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if u, _ := dt.Get(ctx, e, daemonSets, ns, op.ResticName); u != nil {
		ownedByController(t, u, mc)
	}
	pod := restic.Spec.Template.Spec
	if restic.Spec.Template.Labels["name"] != "restic" || restic.Spec.Selector.MatchLabels["name"] != "restic" {
		t.Errorf("restic labels %v, selector %v: want name=restic", restic.Spec.Template.Labels, restic.Spec.Selector.MatchLabels)
	}
	if pod.ServiceAccountName != op.VeleroName || len(pod.Containers) != 1 {
		t.Fatalf("restic pod: ServiceAccount %q, %d containers; want velero and one", pod.ServiceAccountName, len(pod.Containers))
	}
	c := pod.Containers[0]
	if c.SecurityContext == nil || c.SecurityContext.Privileged == nil || !*c.SecurityContext.Privileged {
		t.Errorf("restic container is not privileged: %+v", c.SecurityContext)
	}
	if got := strings.Join(append(c.Command, c.Args...), " "); got != "/velero restic server" || c.Image != pinned {
		t.Errorf("restic runs %q from %s, want /velero restic server from %s, the digest the operator's environment pins", got, c.Image, pinned)
	}
	if v, err := e.Client.AppsV1().Deployments(ns).Get(ctx, op.VeleroName, metav1.GetOptions{}); err != nil || v.Spec.Template.Spec.Containers[0].Image != pinned {
		t.Errorf("Deployment velero: want image %s (err %v)", pinned, err)
	}
	hostPods := slices.IndexFunc(pod.Volumes, func(v corev1.Volume) bool { return v.Name == "host-pods" })
	if hostPods < 0 || pod.Volumes[hostPods].HostPath == nil || pod.Volumes[hostPods].HostPath.Path != "/var/lib/origin/openshift.local.volumes/pods" {
		t.Errorf("restic volumes %+v: want host-pods from OpenShift 3's kubelet directory", pod.Volumes)
	}
	for _, name := range []string{op.VeleroName, op.LogReaderName} {
		dt.Eventually(t, wait, "Deployment "+name, func(ctx context.Context) (bool, string) { return exists(ctx, e, deployments, ns, name) })
		u, _ := dt.Get(ctx, e, deployments, ns, name)
		ownedByController(t, u, mc)
	}
	dt.Never(t, 2*time.Second, "a controller or web console on the legacy operator", func(ctx context.Context) (bool, string) {
		for _, n := range []string{op.ControllerName, op.UIName} {
			if ok, _ := exists(ctx, e, deployments, ns, n); ok {
				return true, "Deployment " + n + " exists"
			}
		}
		return false, ""
	})
	if u, _ := dt.Get(ctx, e, op.MigrationControllers, ns, mc.GetName()); u != nil && u.Object["status"] != nil {
		t.Errorf("the legacy operator does not manage status, got %v", u.Object["status"])
	}
	for _, k := range mtccrds.Velero {
		if ok, note := exists(ctx, e, crdGVR, "", k.Name()); !ok {
			t.Errorf("velero CRD: %s", note)
		}
	}

	// migration_velero false removes Velero; true brings it back.
	patchSpec(t, e, op.MigrationControllers, mc.GetName(), `{"migration_velero":false}`)
	for _, c := range []struct {
		gvr  schema.GroupVersionResource
		name string
	}{{deployments, op.VeleroName}, {daemonSets, op.ResticName}} {
		dt.Eventually(t, wait, c.gvr.Resource+" "+c.name+" removed with migration_velero false", func(ctx context.Context) (bool, string) { return dt.Gone(ctx, e, c.gvr, ns, c.name) })
	}
	patchSpec(t, e, op.MigrationControllers, mc.GetName(), `{"migration_velero":true}`)
	for _, c := range []struct {
		gvr  schema.GroupVersionResource
		name string
	}{{deployments, op.VeleroName}, {daemonSets, op.ResticName}} {
		dt.Eventually(t, wait, c.gvr.Resource+" "+c.name+" back with migration_velero true", func(ctx context.Context) (bool, string) { return exists(ctx, e, c.gvr, ns, c.name) })
	}
	leftovers := []struct {
		gvr  schema.GroupVersionResource
		name string
	}{
		{clusterRoles, "migration-velero"}, {clusterRoleBindings, "migration-velero"},
		{clusterRoles, "migration-controller"}, {clusterRoleBindings, "migration-controller"},
		{op.SCCs, "rsync-anyuid"}, {op.SCCs, "velero-privileged"},
	}
	for _, c := range leftovers {
		if ok, note := exists(ctx, e, c.gvr, "", c.name); !ok {
			t.Errorf("before the delete: %s", note)
		}
	}

	if err := e.Dynamic.Resource(op.MigrationControllers).Namespace(ns).Delete(ctx, mc.GetName(), metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		gvr  schema.GroupVersionResource
		name string
	}{{deployments, op.VeleroName}, {daemonSets, op.ResticName}, {deployments, op.LogReaderName}, {serviceAccounts, op.VeleroName}, {serviceAccounts, op.ControllerName}} {
		dt.Eventually(t, wait, c.gvr.Resource+" "+c.name+" garbage-collected", func(ctx context.Context) (bool, string) { return dt.Gone(ctx, e, c.gvr, ns, c.name) })
	}
	for _, c := range leftovers {
		if ok, note := exists(ctx, e, c.gvr, "", c.name); !ok {
			t.Errorf("cluster-scoped %s should stay behind: %s", c.name, note)
		}
	}
	for _, k := range mtccrds.Velero {
		if ok, note := exists(ctx, e, crdGVR, "", k.Name()); !ok {
			t.Errorf("velero CRDs stay: %s", note)
		}
	}
}

// relay forwards TCP connections from a loopback port to target until cut, and again once restored
// on the same port: a remote cluster the test can make unreachable without changing its MigCluster.
type relay struct {
	t      *testing.T
	addr   string
	target string
	mu     sync.Mutex
	ln     net.Listener
	conns  []net.Conn
}

func newRelay(t *testing.T, target string) *relay {
	r := &relay{t: t, target: target}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r.addr = ln.Addr().String()
	r.serve(ln)
	t.Cleanup(r.cut)
	return r
}

func (r *relay) serve(ln net.Listener) {
	r.mu.Lock()
	r.ln = ln
	r.mu.Unlock()
	go func() {
		for {
			in, err := ln.Accept()
			if err != nil {
				return
			}
			out, err := net.Dial("tcp", r.target)
			if err != nil {
				in.Close()
				continue
			}
			r.mu.Lock()
			r.conns = append(r.conns, in, out)
			r.mu.Unlock()
			go func() { _, _ = io.Copy(out, in); out.Close() }()
			go func() { _, _ = io.Copy(in, out); in.Close() }()
		}
	}()
}

// cut closes the port and every connection through it.
func (r *relay) cut() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ln != nil {
		r.ln.Close()
		r.ln = nil
	}
	for _, c := range r.conns {
		c.Close()
	}
	r.conns = nil
}

// restore listens on the same port again.
func (r *relay) restore() {
	ln, err := net.Listen("tcp", r.addr)
	if err != nil {
		r.t.Fatalf("relay: listen on %s again: %v", r.addr, err)
	}
	r.serve(ln)
}
