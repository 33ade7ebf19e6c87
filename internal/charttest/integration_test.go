package charttest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"

	"github.com/mtc-helm/mtc-helm/internal/localcluster"
	"github.com/mtc-helm/mtc-helm/internal/mtccrds"
	"github.com/mtc-helm/mtc-helm/internal/testenv"
	"github.com/mtc-helm/mtc-helm/internal/testenv/envtest"
)

func TestMain(m *testing.M) { envtest.Main(m) }

// clusterFlavours maps the flavours of values/ headers to local cluster flavours.
var clusterFlavours = map[string]string{
	"ocp4-ovn": "ocp4:4.17",
	"ocp4-sdn": "ocp4:4.16:OpenShiftSDN",
	"ocp3":     "ocp3",
}

// startCluster starts a local control plane of one flavour for a subtest and stops it when the
// subtest ends. These tests only talk to the API server (no pod runs), so they take the control plane
// alone from internal/localcluster rather than the whole internal/testenv (registry and node), and
// register its processes with testenv's leak check.
func startCluster(t *testing.T, flavour string) *localcluster.Cluster {
	t.Helper()
	f, err := localcluster.ParseFlavour(flavour)
	if err != nil {
		t.Fatal(err)
	}
	root, err := Root()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	c, err := localcluster.Start(ctx, localcluster.Options{Flavour: f, BinDir: filepath.Join(root, "bin"), OnStart: testenv.Track})
	if err != nil {
		t.Fatalf("local cluster %s: %v", flavour, err)
	}
	t.Cleanup(func() { _ = c.Stop() })
	// configure applies the MigrationController, MigStorage and MigClusters the chart renders into
	// ConfigMap mtc-configure; with MTC's CRDs in place (OLM would install them), the applier sends them
	// too. The 1.7 chart brings the MigrationController CRD itself on OpenShift 3.11, whose API server
	// neither prunes nor checks field names.
	if f.Kind == localcluster.OCP4 {
		dyn, err := dynamic.NewForConfig(c.Config)
		if err != nil {
			t.Fatal(err)
		}
		if err := mtccrds.Install(ctx, dyn, "", mtccrds.MTC); err != nil {
			t.Fatalf("MTC's CRDs on %s: %v", flavour, err)
		}
	}
	return c
}

// renderOnline renders a chart as a real install would, with helm install --dry-run=server: Helm reads
// the cluster's capabilities, lookup sees the cluster (platform and network type auto-detected), and
// Helm validates the release objects against the server's OpenAPI schema. It returns the release
// objects and the hooks as one multi-document YAML, and the NOTES.
func renderOnline(root, helm, kubeconfig, chart string, args ...string) (manifest []byte, notes string, err error) {
	full := append([]string{"install", "mtc", filepath.Join(root, "charts", chart), "--namespace", Namespace,
		"--dry-run=server", "--output", "json", "--kubeconfig", kubeconfig}, args...)
	cmd := exec.Command(helm, full...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, "", &HelmError{Args: full, Err: err, Stderr: stderr.String()}
	}
	var rel struct {
		Manifest string `json:"manifest"`
		Hooks    []struct {
			Manifest string `json:"manifest"`
		} `json:"hooks"`
		Info struct {
			Notes string `json:"notes"`
		} `json:"info"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &rel); err != nil {
		return nil, "", fmt.Errorf("helm install --dry-run=server -o json printed no release: %w", err)
	}
	var b strings.Builder
	b.WriteString(rel.Manifest)
	for _, h := range rel.Hooks {
		b.WriteString("\n---\n")
		b.WriteString(h.Manifest)
	}
	return []byte(b.String()), rel.Info.Notes, nil
}

// secretsInValues are the example credentials of values/; NOTES must never print them.
var secretsInValues = []string{"example-secret-access-key", "example-service-account-token", "example-minio-secret", "example-client-secret", "example-password", "noobaa-secret-key"}

// TestIntegrationServerDryRun renders every values/ file on each chart it is meant for, with Helm 3 and
// Helm 4 (which must agree), against the
// matching local cluster flavour (ocp4 OVN-Kubernetes, ocp4 OpenShiftSDN, OpenShift 3.11 with the
// real OpenShift and OLM CRDs) and sends each rendered object, hooks included, to the API server as a
// dry-run create with strict field validation, in an install namespace that enforces PodSecurity
// restricted (warnings about the Jobs' pod templates fail the test too). Kubernetes 1.11 (the ocp3 flavour) has no server-side
// dry-run, so there the objects are created for real in the throwaway cluster, after Helm validated
// them against that server's OpenAPI schema.
func TestIntegrationServerDryRun(t *testing.T) {
	envtest.SkipIfShort(t)
	root, helm := setup(t, "helm")
	_, helm4 := setup(t, "helm4")
	files, err := ValuesFiles(root)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"ocp4-ovn", "ocp4-sdn", "ocp3"} {
		t.Run(name, func(t *testing.T) {
			c := startCluster(t, clusterFlavours[name])
			applier, err := newApplier(c)
			if err != nil {
				t.Fatal(err)
			}
			renders := 0
			for _, vf := range files {
				if vf.Flavour.Name != name {
					continue
				}
				for _, chart := range vf.Charts {
					t.Run(chart+"/"+vf.Name, func(t *testing.T) {
						out, notes, err := renderOnline(root, helm, c.Kubeconfig, chart, "-f", vf.Path)
						if err != nil {
							t.Fatal(err)
						}
						for _, secret := range secretsInValues {
							if strings.Contains(notes, secret) {
								t.Errorf("NOTES print the credential %q", secret)
							}
						}
						// Keys only mig-controller reads are named in NOTES where it does not run.
						if strings.HasSuffix(vf.Name, "remote") || strings.HasSuffix(vf.Name, "control") {
							_, notes, err := renderOnline(root, helm, c.Kubeconfig, chart, "-f", vf.Path,
								"--set", "migrationController.stunnelTcpProxy=http://proxy.example.com:3128",
								"--set", "migrationController.rsyncResources.source.limits.memory=2Gi")
							if err != nil {
								t.Fatal(err)
							}
							const note = "Note: migrationController.stunnelTcpProxy, migrationController.rsyncResources take effect only on the control cluster"
							if remote := strings.HasSuffix(vf.Name, "remote"); strings.Contains(notes, note) != remote {
								t.Errorf("role %s: NOTES should say %q: %v\n%s", map[bool]string{true: "remote", false: "control"}[remote], note, remote, notes)
							}
						}
						// Helm 4 must render the same objects from the same cluster.
						out4, _, err := renderOnline(root, helm4, c.Kubeconfig, chart, "-f", vf.Path)
						if err != nil {
							t.Fatal(err)
						}
						if diff := sameObjects(out, out4); diff != "" {
							t.Errorf("Helm 4 renders %s with %s differently from Helm 3: %s", chart, vf.Name, diff)
						}
						n, err := applier.apply(t, out)
						if err != nil {
							t.Fatal(err)
						}
						t.Logf("%d objects accepted by the %s API server", n, name)
					})
					renders++
				}
			}
			if renders == 0 {
				t.Fatalf("no values/ file is meant for flavour %s", name)
			}
		})
	}
}

// TestIntegrationPlatformRefusals: with platform auto, the 1.8 chart refuses OpenShift 3.11 and both
// charts refuse a cluster without OpenShift APIs, each before any object exists and in one sentence.
func TestIntegrationPlatformRefusals(t *testing.T) {
	envtest.SkipIfShort(t)
	root, helm := setup(t, "helm")
	cases := []struct {
		flavour string
		charts  []string
		want    string
	}{
		{"ocp3", []string{"mtc-1.8"}, "platform auto found ocp3, which MTC 1.8 does not support"},
		{"kubernetes", Charts, "platform is auto but this cluster serves no OpenShift API"},
	}
	for _, c := range cases {
		t.Run(c.flavour, func(t *testing.T) {
			cluster := startCluster(t, c.flavour)
			for _, chart := range c.charts {
				_, _, err := renderOnline(root, helm, cluster.Kubeconfig, chart)
				var he *HelmError
				if !errors.As(err, &he) || !strings.Contains(he.Stderr, c.want) {
					t.Errorf("%s on %s: want a refusal containing %q, got %v", chart, c.flavour, c.want, err)
				}
			}
		})
	}
}

// configureConfigMap is the ConfigMap whose key objects.yaml holds what the configure hook applies.
const configureConfigMap = "mtc-configure"

// TestIntegrationMisspelledFieldRefused changes one field name in the library chart's MigStorage
// template, as a slip in a template edit would (awsS3Url spelled awsS3URL, as its Go field is), and
// shows that the API server refuses the MigStorage with MTC's CRD schema and strict field validation,
// naming the field; the unchanged chart passes. Without a schema the field would be kept and ignored
// by mig-controller, and on a cluster pruned in silence.
func TestIntegrationMisspelledFieldRefused(t *testing.T) {
	envtest.SkipIfShort(t)
	root, helm := setup(t, "helm")
	c := startCluster(t, clusterFlavours["ocp4-ovn"])
	applier, err := newApplier(c)
	if err != nil {
		t.Fatal(err)
	}
	args := []string{"-f", filepath.Join(root, "values", "storage-aws.yaml"), "--set", "replicationRepository.endpoint=https://s3.example.com"}
	out, _, err := renderOnline(root, helm, c.Kubeconfig, "mtc-1.8", args...)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := applier.apply(t, out); err != nil {
		t.Fatalf("the chart as it is: %v", err)
	}

	copyRoot := t.TempDir()
	for _, chart := range []string{"mtc-lib", "mtc-1.8"} {
		if err := os.CopyFS(filepath.Join(copyRoot, "charts", chart), os.DirFS(filepath.Join(root, "charts", chart))); err != nil {
			t.Fatal(err)
		}
	}
	tpl := filepath.Join(copyRoot, "charts", "mtc-lib", "templates", "_storage.tpl")
	src, err := os.ReadFile(tpl)
	if err != nil {
		t.Fatal(err)
	}
	const right, wrong = `"awsS3Url" $r.endpoint`, `"awsS3URL" $r.endpoint`
	if !bytes.Contains(src, []byte(right)) {
		t.Fatalf("%s no longer sets %s: update this test", tpl, right)
	}
	if err := os.WriteFile(tpl, bytes.Replace(src, []byte(right), []byte(wrong), 1), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(helm, "dependency", "build", filepath.Join(copyRoot, "charts", "mtc-1.8")).CombinedOutput(); err != nil {
		t.Fatalf("helm dependency build: %v\n%s", err, out)
	}
	out, _, err = renderOnline(copyRoot, helm, c.Kubeconfig, "mtc-1.8", args...)
	if err != nil {
		t.Fatal(err)
	}
	_, err = applier.apply(t, out)
	const want = `unknown field "spec.backupStorageConfig.awsS3URL"`
	if err == nil || !strings.Contains(err.Error(), "MigStorage") || !strings.Contains(err.Error(), want) {
		t.Fatalf("the misspelled MigStorage: want a refusal naming %s, got %v", want, err)
	}
}

// applier sends rendered objects to one cluster.
type applier struct {
	client  kubernetes.Interface
	dynamic dynamic.Interface
	mapper  *restmapper.DeferredDiscoveryRESTMapper
	dryRun  bool
	// podSecurity: the API server has PodSecurity admission (Kubernetes 1.25 and later), so the install
	// namespace enforces the restricted level and every warning about a pod template fails the test.
	podSecurity bool
	warnings    *warningRecorder
}

// warningRecorder keeps the warnings the API server sends back (PodSecurity reports pod templates of
// Jobs and Deployments that would violate the namespace's level as warnings).
type warningRecorder struct {
	mu   sync.Mutex
	list []string
}

func (w *warningRecorder) HandleWarningHeader(_ int, _ string, text string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.list = append(w.list, text)
}

func (w *warningRecorder) take() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := w.list
	w.list = nil
	return out
}

func newApplier(c *localcluster.Cluster) (*applier, error) {
	warnings := &warningRecorder{}
	config := rest.CopyConfig(c.Config)
	config.WarningHandler = warnings
	client, err := kubernetes.NewForConfig(config)
	if err != nil {
		return nil, err
	}
	dyn, err := dynamic.NewForConfig(config)
	if err != nil {
		return nil, err
	}
	v, err := client.Discovery().ServerVersion()
	if err != nil {
		return nil, err
	}
	var minor int
	fmt.Sscan(strings.TrimSuffix(v.Minor, "+"), &minor)
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memoryCache{client.Discovery()})
	return &applier{client: client, dynamic: dyn, mapper: mapper, dryRun: minor >= 13, podSecurity: minor >= 25, warnings: warnings}, nil
}

// apply creates the namespaces the objects live in, then sends each object; it returns how many the
// server accepted, or the first refusal.
func (a *applier) apply(t *testing.T, manifest []byte) (int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	objs, err := decodeObjects(manifest)
	if err != nil {
		return 0, err
	}
	var namespaces []string
	for _, o := range objs {
		if ns := o.GetNamespace(); ns != "" && !slices.Contains(namespaces, ns) {
			namespaces = append(namespaces, ns)
		}
	}
	for _, ns := range namespaces {
		meta := metav1.ObjectMeta{Name: ns}
		if a.podSecurity && ns == Namespace {
			meta.Labels = map[string]string{"pod-security.kubernetes.io/enforce": "restricted", "pod-security.kubernetes.io/warn": "restricted"}
		}
		_, err := a.client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: meta}, metav1.CreateOptions{})
		if err != nil && !apierrors.IsAlreadyExists(err) {
			return 0, fmt.Errorf("failed to create namespace %s: %w", ns, err)
		}
	}
	// What configure will apply is checked as the release's own objects are, where the API server
	// can check it without creating it (MTC's CRDs are in place there; see startCluster).
	for _, o := range slices.Clone(objs) {
		if !a.dryRun || o.GetKind() != "ConfigMap" || o.GetName() != configureConfigMap {
			continue
		}
		data, _, _ := unstructured.NestedString(o.Object, "data", "objects.yaml")
		applied, err := decodeObjects([]byte(data))
		if err != nil {
			return 0, fmt.Errorf("ConfigMap %s key objects.yaml: %w", configureConfigMap, err)
		}
		objs = append(objs, applied...)
	}
	// Pods name their ServiceAccount, and admission refuses a pod (even in a dry run) whose
	// ServiceAccount does not exist; a real install creates them first (lower hook weights), so here
	// they are created for real, and removed when the test ends.
	slices.SortStableFunc(objs, func(x, y *unstructured.Unstructured) int {
		return boolRank(x.GetKind() != "ServiceAccount") - boolRank(y.GetKind() != "ServiceAccount")
	})
	for _, o := range objs {
		opts := metav1.CreateOptions{FieldValidation: "Strict"}
		if a.dryRun && o.GetKind() != "ServiceAccount" {
			opts.DryRun = []string{metav1.DryRunAll}
		}
		gvk := o.GroupVersionKind()
		mapping, err := a.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
		if err != nil {
			return 0, fmt.Errorf("%s %s: the cluster does not serve this kind: %w", gvk, o.GetName(), err)
		}
		var ri dynamic.ResourceInterface = a.dynamic.Resource(mapping.Resource)
		if o.GetNamespace() != "" {
			ri = a.dynamic.Resource(mapping.Resource).Namespace(o.GetNamespace())
		}
		_, err = ri.Create(ctx, o, opts)
		if err != nil && !(apierrors.IsAlreadyExists(err) && opts.DryRun == nil) {
			return 0, fmt.Errorf("%s %s/%s refused: %w", gvk.Kind, o.GetNamespace(), o.GetName(), err)
		}
		for _, w := range a.warnings.take() {
			if strings.Contains(w, "PodSecurity") {
				return 0, fmt.Errorf("%s %s/%s would violate PodSecurity restricted: %s", gvk.Kind, o.GetNamespace(), o.GetName(), w)
			}
		}
		if opts.DryRun == nil && err == nil {
			// What was created for real goes when the test ends, so the next render starts clean.
			t.Cleanup(func() { _ = ri.Delete(context.Background(), o.GetName(), metav1.DeleteOptions{}) })
		}
	}
	return len(objs), nil
}

// memoryCache adapts a discovery client to the cached interface the deferred mapper wants; the
// cluster's API does not change during a test.
type memoryCache struct{ discovery.DiscoveryInterface }

func (memoryCache) Fresh() bool { return true }
func (memoryCache) Invalidate() {}

func boolRank(b bool) int {
	if b {
		return 1
	}
	return 0
}

// decodeObjects reads a multi-document YAML stream into objects, skipping empty documents.
func decodeObjects(manifest []byte) ([]*unstructured.Unstructured, error) {
	var objs []*unstructured.Unstructured
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(manifest), 4096)
	for {
		u := &unstructured.Unstructured{}
		if err := dec.Decode(&u.Object); err != nil {
			if errors.Is(err, io.EOF) {
				return objs, nil
			}
			return nil, err
		}
		if len(u.Object) > 0 {
			objs = append(objs, u)
		}
	}
}

// sameObjects compares two renders object by object (kind, namespace and name as the key), ignoring
// document order and formatting; it returns what differs, or "".
func sameObjects(a, b []byte) string {
	index := func(manifest []byte) (map[string]*unstructured.Unstructured, error) {
		objs, err := decodeObjects(manifest)
		if err != nil {
			return nil, err
		}
		m := map[string]*unstructured.Unstructured{}
		for _, o := range objs {
			m[o.GetKind()+" "+o.GetNamespace()+"/"+o.GetName()] = o
		}
		return m, nil
	}
	ma, err := index(a)
	if err != nil {
		return err.Error()
	}
	mb, err := index(b)
	if err != nil {
		return err.Error()
	}
	var diffs []string
	for key, oa := range ma {
		ob, ok := mb[key]
		switch {
		case !ok:
			diffs = append(diffs, key+" only in the first")
		case !equality.Semantic.DeepEqual(oa.Object, ob.Object):
			diffs = append(diffs, key+" differs")
		}
	}
	for key := range mb {
		if _, ok := ma[key]; !ok {
			diffs = append(diffs, key+" only in the second")
		}
	}
	slices.Sort(diffs)
	return strings.Join(diffs, "; ")
}
