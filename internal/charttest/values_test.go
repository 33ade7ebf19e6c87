package charttest

import (
	"encoding/base64"
	"path/filepath"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"github.com/mtc-helm/mtc-helm/hooks/version"
)

// eachChart runs f for each chart with a render function: helm template of that chart for the
// ocp4-ovn flavour, --show-only the given template, with extra arguments (a relative -f path is
// taken from the repository root).
func eachChart(t *testing.T, f func(t *testing.T, render func(show string, args ...string) []byte)) {
	root, helm := setup(t, "helm")
	for _, chart := range Charts {
		t.Run(chart, func(t *testing.T) {
			f(t, func(show string, args ...string) []byte {
				t.Helper()
				full := append(Flavours["ocp4-ovn"].Args(), "--show-only", show)
				for i, a := range args {
					if i > 0 && args[i-1] == "-f" && !filepath.IsAbs(a) {
						a = filepath.Join(root, a)
					}
					full = append(full, a)
				}
				out, err := Template(root, helm, chart, full...)
				if err != nil {
					t.Fatal(err)
				}
				return out
			})
		})
	}
}

// no_proxy reaches the MigrationController whenever it is set: with the cluster-wide Proxy the
// proxies come through the operator's environment and only the exceptions are the user's.
func TestNoProxyPassedWithoutAProxyInValues(t *testing.T) {
	eachChart(t, func(t *testing.T, render func(show string, args ...string) []byte) {
		out := render("templates/configure-configmap.yaml", "--set", "remoteClusters=null",
			"--set", "migrationController.proxy.noProxy=.cluster.local\\,10.0.0.0/8")
		if !strings.Contains(string(out), "no_proxy: .cluster.local,10.0.0.0/8") {
			t.Errorf("no_proxy is not in the MigrationController:\n%s", out)
		}
		if strings.Contains(string(out), "http_proxy") || strings.Contains(string(out), "https_proxy") {
			t.Errorf("a proxy the values did not set is in the MigrationController:\n%s", out)
		}
	})
}

// A remote's insecure: true reaches the version check as it reaches the MigCluster: without it the
// check cannot connect to a remote whose API certificate the values do not give.
func TestRemoteInsecureReachesVersionCheck(t *testing.T) {
	eachChart(t, func(t *testing.T, render func(show string, args ...string) []byte) {
		out := render("templates/hook-version-check-remotes-secret.yaml",
			"--set", "remoteClusters.source.url=https://api.source.example.com:6443", "--set", "remoteClusters.source.token=t0ken",
			"--set", "remoteClusters.source.insecure=true", "--set", "remoteClusters.target.url=https://api.target.example.com:6443",
			"--set", "remoteClusters.target.token=t0ken")
		var s corev1.Secret
		if err := yaml.Unmarshal(out, &s); err != nil {
			t.Fatal(err)
		}
		raw, err := base64.StdEncoding.DecodeString(string(s.Data[version.RemotesKey]))
		if err != nil {
			raw = s.Data[version.RemotesKey]
		}
		var remotes []version.Remote
		if err := yaml.Unmarshal(raw, &remotes); err != nil {
			t.Fatalf("%v\n%s", err, raw)
		}
		got := map[string]bool{}
		for _, r := range remotes {
			got[r.Name] = r.Insecure
		}
		if len(got) != 2 || !got["source"] || got["target"] {
			t.Errorf("insecure by remote %v, want source true and target false", got)
		}
	})
}

// The MigStorage options mig-controller passes to Velero (the AWS plugin's public URL, KMS key and
// signature version; the snapshot provider and timeouts) come from values.
func TestStorageOptionsReachTheMigStorage(t *testing.T) {
	eachChart(t, func(t *testing.T, render func(show string, args ...string) []byte) {
		out := render("templates/configure-configmap.yaml", "--set", "remoteClusters=null", "-f", "values/storage-aws.yaml",
			"--set", "replicationRepository.aws.publicUrl=https://s3-public.example.com",
			"--set", "replicationRepository.aws.kmsKeyId=arn:aws:kms:us-east-2:111122223333:key/abcd",
			"--set-string", "replicationRepository.aws.signatureVersion=4",
			"--set", "replicationRepository.volumeSnapshot.provider=aws",
			"--set", "replicationRepository.volumeSnapshot.snapshotCreationTimeout=45m")
		var cm struct {
			Data map[string]string `json:"data"`
		}
		if err := yaml.Unmarshal(out, &cm); err != nil {
			t.Fatal(err)
		}
		var spec map[string]any
		for _, doc := range strings.Split(cm.Data["objects.yaml"], "\n---\n") {
			var o struct {
				Kind string         `json:"kind"`
				Spec map[string]any `json:"spec"`
			}
			if err := yaml.Unmarshal([]byte(doc), &o); err == nil && o.Kind == "MigStorage" {
				spec = o.Spec
			}
		}
		if spec == nil {
			t.Fatalf("no MigStorage in:\n%s", cm.Data["objects.yaml"])
		}
		bs, _ := spec["backupStorageConfig"].(map[string]any)
		vs, _ := spec["volumeSnapshotConfig"].(map[string]any)
		for k, want := range map[string]string{"awsPublicUrl": "https://s3-public.example.com", "awsKmsKeyId": "arn:aws:kms:us-east-2:111122223333:key/abcd", "awsSignatureVersion": "4"} {
			if bs[k] != want {
				t.Errorf("backupStorageConfig.%s = %v, want %q", k, bs[k], want)
			}
		}
		if vs["snapshotCreationTimeout"] != "45m" || spec["volumeSnapshotProvider"] != "aws" {
			t.Errorf("volume snapshot: provider %v, config %v", spec["volumeSnapshotProvider"], vs)
		}
	})
}

// A legacy operand image pinned by digest reaches the legacy operator as Red Hat's operator.yml passes
// one (<repository>@sha256 and the hex digest, which the role joins with ':'); the operator's own image
// is pulled Always while it floats on a tag and IfNotPresent once pinned.
func TestLegacyImagesByDigest(t *testing.T) {
	root, helm := setup(t, "helm")
	digest := "sha256:" + strings.Repeat("5e", 32)
	for _, tc := range []struct {
		name       string
		set        []string
		repo, tag  string
		pullPolicy corev1.PullPolicy
	}{
		{"tags", nil, "openshift-migration-velero-rhel8", "v1.7", corev1.PullAlways},
		{"digests", []string{"legacy.operandImages.velero.digest=" + digest, "legacy.image.digest=" + digest},
			"openshift-migration-velero-rhel8@sha256", strings.Repeat("5e", 32), corev1.PullIfNotPresent},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append(Flavours["ocp3"].Args(), "-f", root+"/values/ocp3-remote.yaml", "--show-only", "templates/legacy-operator-deployment.yaml")
			for _, s := range tc.set {
				args = append(args, "--set", s)
			}
			out, err := Template(root, helm, "mtc-1.7", args...)
			if err != nil {
				t.Fatal(err)
			}
			var d appsv1.Deployment
			if err := yaml.Unmarshal(out, &d); err != nil {
				t.Fatal(err)
			}
			c := d.Spec.Template.Spec.Containers[0]
			env := map[string]string{}
			for _, e := range c.Env {
				env[e.Name] = e.Value
			}
			if env["VELERO_REPO"] != tc.repo || env["VELERO_TAG"] != tc.tag || c.ImagePullPolicy != tc.pullPolicy {
				t.Errorf("VELERO_REPO %q, VELERO_TAG %q, pull policy %s; want %q, %q, %s", env["VELERO_REPO"], env["VELERO_TAG"], c.ImagePullPolicy, tc.repo, tc.tag, tc.pullPolicy)
			}
		})
	}
}
