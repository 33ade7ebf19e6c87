package lifecycle_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/mtc-helm/mtc-helm/internal/lifecycle"
	"github.com/mtc-helm/mtc-helm/internal/testenv"
)

// override writes a values file of the cluster: no remote clusters, the storage of a provider, and
// edit applied to replicationRepository.
func override(t *testing.T, l *lifecycle.Lab, e *testenv.Env, name, provider string, edit func(r map[string]any)) string {
	t.Helper()
	v := lifecycle.StorageOverride(e, provider)
	v["remoteClusters"] = nil
	if edit != nil {
		edit(v["replicationRepository"].(map[string]any))
	}
	p, err := l.LocalValues(e, name, v)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// Before anything of the release exists, the storage check refuses a wrong key, a missing bucket
// and (S3) a wrong region of each provider with the provider's error; then each of the five
// providers goes through with good credentials (an install, then upgrades that switch provider).
// No hook log, event or ConfigMap of the namespace holds a credential afterwards.
func TestIntegrationStorageCheckBeforeInstall(t *testing.T) {
	t.Parallel()
	l := lab(t, "helm")
	ctx := ctxFor(t)
	e := cluster(t, l, ocp417)
	s := e.Cluster.Storage
	// helm upgrade --install: a refused pre-install leaves a failed release, which the next case
	// upgrades, as a user retrying with fixed values would.
	apply := func(values string) (string, error) {
		return l.Run(ctx, e, "helm", "upgrade", "--install", "mtc", l.Chart("mtc-1.8"), "-n", ns, "--create-namespace", "--timeout", "4m",
			"-f", l.Values("control.yaml"), "-f", values)
	}
	set := func(k string, v any) func(map[string]any) { return func(r map[string]any) { r[k] = v } }
	creds := func(k string, v any) func(map[string]any) {
		return func(r map[string]any) { r["credentials"].(map[string]any)[k] = v }
	}
	// mcg with nothing but the bucket: the endpoint, keys and CA come from OpenShift Data Foundation.
	fromODF := func(r map[string]any) {
		r["endpoint"], r["caBundle"] = "", ""
		r["credentials"] = map[string]any{"accessKeyId": "", "secretAccessKey": ""}
	}
	refusals := []struct {
		provider string
		edit     func(map[string]any)
		want     string
	}{
		{"aws", creds("secretAccessKey", "wrong-"+s.S3.SecretAccessKey), "SignatureDoesNotMatch"},
		{"aws", set("bucket", "no-such-bucket"), "NoSuchBucket"},
		{"aws", set("region", "ap-south-1"), "AuthorizationHeaderMalformed"},
		{"s3", creds("accessKeyId", "NOSUCHACCESSKEY"), "accessKeyId"},
		{"s3", set("bucket", "no-such-bucket"), "NoSuchBucket"},
		{"s3", set("region", "us-west-2"), "AuthorizationHeaderMalformed"},
		{"mcg", creds("secretAccessKey", "wrong-"+s.S3.SecretAccessKey), "SignatureDoesNotMatch"},
		{"mcg", set("bucket", "no-such-bucket"), "NoSuchBucket"},
		{"gcp", creds("gcpServiceAccountKey", string(s.GCS.OtherKey)), "invalid_grant"},
		{"gcp", set("bucket", "no-such-bucket"), "notFound"},
		{"azure", func(r map[string]any) {
			r["credentials"].(map[string]any)["azure"].(map[string]any)["clientSecret"] = "wrong"
		}, "invalid_client"},
		{"azure", func(r map[string]any) { r["azure"].(map[string]any)["storageContainer"] = "no-such-container" }, "ContainerNotFound"},
		{"mcg", fromODF, "has no NooBaa openshift-storage/noobaa"},
	}
	for i, c := range refusals {
		out, err := apply(override(t, l, e, "refused.yaml", c.provider, c.edit))
		if err == nil {
			t.Fatalf("%s case %d (%s) was installed", c.provider, i, c.want)
		}
		if !strings.Contains(out, "storage-check: ") || !strings.Contains(out, c.want) {
			t.Fatalf("%s: want the storage check's refusal naming %s:\n%s", c.provider, c.want, out)
		}
		l.Show(out, "storage-check:")
		if err := lifecycle.ReleaseObjectsAbsent(ctx, e); err != nil {
			t.Fatalf("%s (%s): %v", c.provider, c.want, err)
		}
		if _, err := e.Client.CoreV1().Secrets(ns).Get(ctx, "replication-repository-credentials", metav1.GetOptions{}); err == nil {
			t.Fatalf("%s (%s): the release's credentials Secret exists after the refusal", c.provider, c.want)
		}
		if _, err := e.Client.CoreV1().Secrets(ns).Get(ctx, "mtc-hook-storage-check", metav1.GetOptions{}); err == nil {
			t.Fatalf("%s (%s): the hook's copy of the credentials outlived the refusal", c.provider, c.want)
		}
	}
	if err := e.Cluster.InstallODF(ctx); err != nil {
		t.Fatal(err)
	}
	goods := []struct {
		provider string
		edit     func(map[string]any)
	}{{"s3", nil}, {"gcp", nil}, {"azure", nil}, {"mcg", nil}, {"aws", nil}, {"mcg", fromODF}}
	for _, g := range goods {
		out, err := apply(override(t, l, e, "good.yaml", g.provider, g.edit))
		if err != nil {
			t.Fatalf("%s with good credentials: %v\n%s", g.provider, err, out)
		}
		if err := l.CheckInstalled(ctx, e, true); err != nil {
			t.Fatalf("%s: %v", g.provider, err)
		}
	}
	// The last install took everything from OpenShift Data Foundation: the MigStorage names NooBaa's
	// S3 address and carries the ingress CA, its Secret holds the admin keys (the controller's double
	// wrote to the bucket with them before it called the MigStorage Ready).
	ms, err := e.Dynamic.Resource(schema.GroupVersionResource{Group: "migration.openshift.io", Version: "v1alpha1", Resource: "migstorages"}).Namespace(ns).Get(ctx, "replication-repository", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if url, _, _ := unstructured.NestedString(ms.Object, "spec", "backupStorageConfig", "awsS3Url"); url != s.S3.URL {
		t.Fatalf("MigStorage awsS3Url %q, want NooBaa's %s", url, s.S3.URL)
	}
	sec, err := e.Client.CoreV1().Secrets(ns).Get(ctx, "replication-repository-credentials", metav1.GetOptions{})
	if err != nil || string(sec.Data["aws-access-key-id"]) != s.S3.AccessKeyID {
		t.Fatalf("the release's Secret lacks NooBaa's admin keys (%v)", err)
	}
	secrets := []string{s.S3.SecretAccessKey, s.Azure.ClientSecret, s.Azure.AccountKey, privateKeyLine(t, s.GCS.ServiceAccountKey)}
	leaks := credentialLeaks(ctx, t, e, secrets)
	if len(leaks) > 0 {
		t.Fatalf("credentials found in: %v", leaks)
	}
}

// privateKeyLine is one line from the middle of the service account's private key.
func privateKeyLine(t *testing.T, key []byte) string {
	t.Helper()
	i := strings.Index(string(key), "KEY-----\\n")
	if i < 0 {
		t.Fatal("no private key in the service account key")
	}
	return string(key[i+9 : i+9+40])
}

// credentialLeaks lists the hook logs, events, ConfigMaps and Jobs of the namespace that hold one of
// the secrets.
func credentialLeaks(ctx context.Context, t *testing.T, e *testenv.Env, secrets []string) []string {
	t.Helper()
	var leaks []string
	look := func(where, text string) {
		for _, s := range secrets {
			if s != "" && strings.Contains(text, s) {
				leaks = append(leaks, where)
			}
		}
	}
	logs := 0
	_ = filepath.WalkDir(filepath.Join(e.Cluster.Dir, "node"), func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".log") {
			b, _ := os.ReadFile(p)
			if strings.Contains(string(b), "storage:  ") { // the storage check's report
				logs++
			}
			look(p, string(b))
		}
		return nil
	})
	if logs == 0 {
		t.Fatal("no pod log under the node's directory holds a storage check's report: the grep would prove nothing")
	}
	events, err := e.Client.CoreV1().Events(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range events.Items {
		look("event "+ev.Name, ev.Message)
	}
	cms, err := e.Client.CoreV1().ConfigMaps(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, cm := range cms.Items {
		for k, v := range cm.Data {
			look("ConfigMap "+cm.Name+" key "+k, v)
		}
	}
	jobs, err := e.Client.BatchV1().Jobs(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, j := range jobs.Items {
		look("Job "+j.Name, strings.Join(j.Spec.Template.Spec.Containers[0].Args, " "))
	}
	return leaks
}
