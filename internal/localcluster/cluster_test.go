package localcluster_test

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"

	"github.com/mtc-helm/mtc-helm/internal/localcluster"
	"github.com/mtc-helm/mtc-helm/internal/repo"
	"github.com/mtc-helm/mtc-helm/internal/testenv"
	"github.com/mtc-helm/mtc-helm/internal/testenv/envtest"
)

func TestMain(m *testing.M) { envtest.Main(m) }

func TestParseFlavour(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in      string
		want    localcluster.Flavour
		wantErr string
	}{
		{in: "ocp4", want: localcluster.Flavour{Kind: "ocp4", Version: "4.17", Network: "OVNKubernetes"}},
		{in: "ocp4:4.14:OpenShiftSDN", want: localcluster.Flavour{Kind: "ocp4", Version: "4.14", Network: "OpenShiftSDN"}},
		{in: "ocp4:4.12", want: localcluster.Flavour{Kind: "ocp4", Version: "4.12", Network: "OVNKubernetes"}},
		{in: "ocp3", want: localcluster.Flavour{Kind: "ocp3"}},
		{in: "kubernetes", want: localcluster.Flavour{Kind: "kubernetes"}},
		{in: "ocp4:4.19:OpenShiftSDN", wantErr: "has no OpenShiftSDN"},
		{in: "ocp4:five", wantErr: `"five" is not of the form`},
		{in: "ocp4:4.17:Calico", wantErr: `network type "Calico" is unknown`},
		{in: "ocp3:4.1", wantErr: "OpenShift 3.11 only"},
		{in: "eks", wantErr: `flavour "eks" is unknown`},
		{in: "ocp4:4.17:OVNKubernetes:x", wantErr: "too many parts"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			got, err := localcluster.ParseFlavour(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseFlavour(%q) error = %v, want it to contain %q", tt.in, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("ParseFlavour(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
			}
		})
	}
}

// startCluster starts a bare cluster (no node) and records its pids for the leak check.
func startCluster(t *testing.T, f localcluster.Flavour) (*localcluster.Cluster, map[string]int) {
	t.Helper()
	envtest.SkipIfShort(t)
	pids := map[string]int{}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c, err := localcluster.Start(ctx, localcluster.Options{Flavour: f, OnStart: func(n string, p int) {
		pids[n] = p
		testenv.Track(n, p)
	}})
	if err != nil {
		t.Fatalf("start %s: %v", f, err)
	}
	t.Cleanup(func() { _ = c.Stop() })
	return c, pids
}

func groupVersions(t *testing.T, c *localcluster.Cluster) []string {
	t.Helper()
	dc := discovery.NewDiscoveryClientForConfigOrDie(c.Config)
	groups, err := dc.ServerGroups()
	if err != nil {
		t.Fatalf("discovery: %v", err)
	}
	var out []string
	for _, g := range groups.Groups {
		for _, v := range g.Versions {
			out = append(out, v.GroupVersion)
		}
	}
	return out
}

func TestIntegrationFlavourOCP4(t *testing.T) {
	for _, f := range []localcluster.Flavour{
		{Kind: "ocp4", Version: "4.17", Network: "OVNKubernetes"},
		{Kind: "ocp4", Version: "4.14", Network: "OpenShiftSDN"},
	} {
		t.Run(f.Version+"-"+f.Network, func(t *testing.T) {
			c, _ := startCluster(t, f)
			ctx := context.Background()
			dyn := dynamic.NewForConfigOrDie(c.Config)
			cv, err := dyn.Resource(schema.GroupVersionResource{Group: "config.openshift.io", Version: "v1", Resource: "clusterversions"}).Get(ctx, "version", metav1.GetOptions{})
			if err != nil {
				t.Fatalf("ClusterVersion version: %v", err)
			}
			if got, _, _ := unstructured.NestedString(cv.Object, "status", "desired", "version"); got != f.Version+".0" {
				t.Errorf("status.desired.version = %q, want %q", got, f.Version+".0")
			}
			hist, _, _ := unstructured.NestedSlice(cv.Object, "status", "history")
			if len(hist) != 1 || hist[0].(map[string]any)["state"] != "Completed" {
				t.Errorf("status.history = %v, want one Completed entry", hist)
			}
			gvs := groupVersions(t, c)
			for _, want := range []string{"config.openshift.io/v1", "route.openshift.io/v1", "security.openshift.io/v1", "operators.coreos.com/v1alpha1", "operators.coreos.com/v1"} {
				if !slices.Contains(gvs, want) {
					t.Errorf("discovery lacks %s", want)
				}
			}
			sdn, ovn := slices.Contains(gvs, "network.openshift.io/v1"), slices.Contains(gvs, "k8s.ovn.org/v1")
			if f.Network == "OpenShiftSDN" && (!sdn || ovn) || f.Network == "OVNKubernetes" && (sdn || !ovn) {
				t.Errorf("network %s: network.openshift.io served=%v, k8s.ovn.org served=%v", f.Network, sdn, ovn)
			}
			if _, err := dyn.Resource(schema.GroupVersionResource{Group: "operators.coreos.com", Version: "v1alpha1", Resource: "catalogsources"}).Namespace("openshift-marketplace").Get(ctx, "redhat-operators", metav1.GetOptions{}); err != nil {
				t.Errorf("CatalogSource redhat-operators: %v", err)
			}
			if _, err := dyn.Resource(schema.GroupVersionResource{Group: "config.openshift.io", Version: "v1", Resource: "proxies"}).Get(ctx, "cluster", metav1.GetOptions{}); err != nil {
				t.Errorf("Proxy cluster: %v", err)
			}
		})
	}
}

func TestIntegrationFlavourOCP3(t *testing.T) {
	c, _ := startCluster(t, localcluster.Flavour{Kind: "ocp3"})
	dc := discovery.NewDiscoveryClientForConfigOrDie(c.Config)
	v, err := dc.ServerVersion()
	if err != nil {
		t.Fatal(err)
	}
	if v.GitVersion != "v1.11.0+d4cacc0" || v.Minor != "11+" {
		t.Errorf("/version = %s minor %q, want v1.11.0+d4cacc0 minor 11+", v.GitVersion, v.Minor)
	}
	gvs := groupVersions(t, c)
	if !slices.Contains(gvs, "apiextensions.k8s.io/v1beta1") || slices.Contains(gvs, "apiextensions.k8s.io/v1") {
		t.Errorf("apiextensions versions served: %v, want v1beta1 only", gvs)
	}
	for _, g := range []string{"project.openshift.io/v1", "route.openshift.io/v1", "security.openshift.io/v1", "apps.openshift.io/v1", "image.openshift.io/v1", "authorization.openshift.io/v1"} {
		if !slices.Contains(gvs, g) {
			t.Errorf("discovery lacks %s", g)
		}
	}
	if slices.Contains(gvs, "config.openshift.io/v1") {
		t.Errorf("config.openshift.io must be absent on OpenShift 3.11")
	}
	// A v1 CRD is refused, as on OpenShift 3.11.
	dyn := dynamic.NewForConfigOrDie(c.Config)
	crd := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
		"metadata": map[string]any{"name": "widgets.example.com"},
	}}
	_, err = dyn.Resource(schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}).Create(context.Background(), crd, metav1.CreateOptions{})
	if err == nil || !strings.Contains(err.Error(), "the server could not find the requested resource") {
		t.Errorf("creating a v1 CRD: err = %v, want the server to refuse apiextensions.k8s.io/v1", err)
	}
}

func TestIntegrationFlavourKubernetes(t *testing.T) {
	c, _ := startCluster(t, localcluster.Flavour{Kind: "kubernetes"})
	for _, gv := range groupVersions(t, c) {
		if strings.Contains(gv, "openshift.io") || strings.HasPrefix(gv, "operators.coreos.com") {
			t.Errorf("plain Kubernetes serves %s", gv)
		}
	}
}

func TestIntegrationStopEndsItsProcesses(t *testing.T) {
	t.Setenv(localcluster.KeepDirEnv, "") // the directory goes unless someone asked to keep it
	c, pids := startCluster(t, localcluster.Flavour{Kind: "kubernetes"})
	if len(pids) != 3 {
		t.Fatalf("started %v, want etcd, kube-apiserver and kube-controller-manager", pids)
	}
	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
	for name, pid := range pids {
		if syscall.Kill(pid, 0) == nil {
			t.Errorf("%s (pid %d) still runs after Stop", name, pid)
		}
	}
	if _, err := os.Stat(c.Dir); !os.IsNotExist(err) {
		t.Errorf("work directory %s left behind", c.Dir)
	}
}

func TestIntegrationRestartAPIServer(t *testing.T) {
	c, _ := startCluster(t, localcluster.Flavour{Kind: "kubernetes"})
	ctx := context.Background()
	if err := c.RestartAPIServer(ctx, time.Second); err != nil {
		t.Fatal(err)
	}
	dc := discovery.NewDiscoveryClientForConfigOrDie(c.Config)
	if _, err := dc.ServerVersion(); err != nil {
		t.Fatalf("after the restart: %v", err)
	}
}

// Bad input: each failure is one sentence naming what failed and the log to read, and leaves
// no process behind.
func TestIntegrationBadInput(t *testing.T) {
	envtest.SkipIfShort(t)
	root, err := repo.Root()
	if err != nil {
		t.Fatal(err)
	}
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	stale := t.TempDir()
	if err := os.Mkdir(filepath.Join(stale, "etcd"), 0o755); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		opts localcluster.Options
		want []string
	}{
		{"binary missing", localcluster.Options{BinDir: t.TempDir()}, []string{"etcd is missing: run `make tools`"}},
		{"stale work dir", localcluster.Options{Dir: stale}, []string{"holds a previous cluster's data"}},
		{"apiserver dies at start", localcluster.Options{ExtraAPIServerArgs: []string{"--no-such-flag"}}, []string{"kube-apiserver exited at start", "read ", "kube-apiserver.log"}},
		{"busy port", localcluster.Options{APIServerPort: busy.Addr().(*net.TCPAddr).Port}, []string{"kube-apiserver exited at start", "kube-apiserver.log"}},
		{"unknown flavour", localcluster.Options{Flavour: localcluster.Flavour{Kind: "eks"}}, []string{`flavour "eks" is unknown`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var pids []int
			tt.opts.OnStart = func(n string, p int) { pids = append(pids, p); testenv.Track(n, p) }
			if tt.opts.BinDir == "" {
				tt.opts.BinDir = filepath.Join(root, "bin")
			}
			if tt.opts.Dir == "" {
				// a failed start keeps its directory for the log the error names
				tt.opts.Dir = filepath.Join(t.TempDir(), "cluster")
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			c, err := localcluster.Start(ctx, tt.opts)
			if err == nil {
				_ = c.Stop()
				t.Fatalf("Start succeeded, want an error")
			}
			msg := err.Error()
			for _, w := range tt.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q does not contain %q", msg, w)
				}
			}
			if strings.Contains(strings.TrimSpace(msg), "\n") {
				t.Errorf("error is not one sentence: %q", msg)
			}
			for _, p := range pids {
				if syscall.Kill(p, 0) == nil {
					t.Errorf("pid %d still runs after the failed start", p)
				}
			}
		})
	}
}
