package integration

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	"github.com/mtc-helm/mtc-helm/hooks/kube"
	"github.com/mtc-helm/mtc-helm/internal/mtccrds"
	"github.com/mtc-helm/mtc-helm/internal/repo"
	"github.com/mtc-helm/mtc-helm/internal/testenv"
)

// BenchmarkBinarySize builds mtc-hooks as the image does (static, stripped) and reports its size.
func BenchmarkBinarySize(b *testing.B) {
	root, err := repo.Root()
	if err != nil {
		b.Fatal(err)
	}
	out := filepath.Join(b.TempDir(), "mtc-hooks")
	for i := 0; i < b.N; i++ {
		cmd := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w", "-o", out, "./cmd/mtc-hooks")
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if o, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("go build: %v\n%s", err, o)
		}
	}
	st, err := os.Stat(out)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(st.Size())/(1<<20), "MiB")
}

// BenchmarkStartToFirstRequest measures the time from exec of mtc-hooks version-check to its first
// request reaching the API server (a stub that answers nothing useful).
func BenchmarkStartToFirstRequest(b *testing.B) {
	bin, err := testenv.HookBinary()
	if err != nil {
		b.Fatal(err)
	}
	var mu sync.Mutex
	var first time.Time
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		if first.IsZero() {
			first = time.Now()
		}
		mu.Unlock()
		http.Error(w, "stub", http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	kubeconfig := filepath.Join(b.TempDir(), "kubeconfig")
	cfg := fmt.Sprintf("apiVersion: v1\nkind: Config\nclusters:\n- name: stub\n  cluster: {server: %q}\nusers:\n- name: u\n  user: {token: t}\ncontexts:\n- name: stub\n  context: {cluster: stub, user: u}\ncurrent-context: stub\n", srv.URL)
	if err := os.WriteFile(kubeconfig, []byte(cfg), 0o600); err != nil {
		b.Fatal(err)
	}
	var total time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		mu.Lock()
		first = time.Time{}
		mu.Unlock()
		cmd := exec.Command(bin, "version-check", "--mtc-version", "1.8", "--kubeconfig", kubeconfig, "--timeout", "5s")
		start := time.Now()
		_ = cmd.Run()
		mu.Lock()
		if first.IsZero() {
			mu.Unlock()
			b.Fatal("mtc-hooks made no request")
		}
		total += first.Sub(start)
		mu.Unlock()
	}
	b.ReportMetric(float64(total.Milliseconds())/float64(b.N), "ms-to-first-request")
}

// manualUninstall is the seed's documented uninstall, run as kubectl processes in the same order:
// delete the MigrationController, uninstall the operator (Subscription and CSV), then
// `delete $(get -o name | grep ...)` for the CRDs, cluster roles and bindings.
const manualUninstall = `set -e
k() { "$KUBECTL" "$@"; }
delgrep() { objs=$(k get "$1" -o name | grep "$2" || true); if [ -n "$objs" ]; then k delete $objs; fi; }
k delete migrationcontroller migration-controller -n openshift-migration
k delete subscription mtc-operator -n openshift-migration
k delete clusterserviceversion mtc-operator.v1.8.8 -n openshift-migration
delgrep crds 'migration.openshift.io'
delgrep crds 'velero'
delgrep clusterroles 'migration.openshift.io'
k delete clusterrole migration-operator
delgrep clusterroles 'velero'
delgrep clusterrolebindings 'migration.openshift.io'
k delete clusterrolebindings migration-operator
delgrep clusterrolebindings 'velero'
`

// BenchmarkIntegrationCleanup compares mtc-hooks cleanup with the manual kubectl sequence on the same
// objects (an MTC install with 20 plans and migrations), and reports both and their ratio.
func BenchmarkIntegrationCleanup(b *testing.B) {
	cluster := controlPlane(b, "ocp4:4.17")
	w := newWorld(b, kubernetes.NewForConfigOrDie(cluster.Config), dynamic.NewForConfigOrDie(cluster.Config))
	root, err := repo.Root()
	if err != nil {
		b.Fatal(err)
	}
	kubectl := filepath.Join(root, "bin", "kubectl")
	bin, err := testenv.HookBinary()
	if err != nil {
		b.Fatal(err)
	}
	var hooksTotal, manualTotal time.Duration
	// MTC_BENCH_LOG=1 prints each cleanup's log with its timestamps: where the time goes.
	logIt := os.Getenv("MTC_BENCH_LOG") != ""
	// On a user's cluster the CRDs have long been served; here each round makes them anew, and the
	// API server answers the first requests for a new CRD with a 1 s Retry-After. List each kind once
	// before the clock runs, for both sides alike.
	warm := func() {
		for _, k := range append(slices.Clone(mtccrds.MTC), mtccrds.Velero...) {
			if _, err := w.dyn.Resource(k.GVR()).List(w.ctx, metav1.ListOptions{Limit: 1}); err != nil {
				b.Fatalf("list %s: %v", k.Plural, err)
			}
		}
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		w.installMTC(20)
		warm()
		b.StartTimer()
		start := time.Now()
		args := []string{"cleanup", "--step-timeout", "60s"}
		if logIt {
			args = append(args, "--verbose")
		}
		cmd := exec.Command(bin, args...)
		cmd.Env = append(os.Environ(), "KUBECONFIG="+cluster.Kubeconfig)
		log, err := cmd.CombinedOutput()
		if err != nil {
			b.Fatalf("mtc-hooks cleanup: %v\n%s", err, log)
		}
		hooksTotal += time.Since(start)
		if logIt {
			fmt.Printf("%s\n", log)
		}

		b.StopTimer()
		w.installMTC(20)
		warm()
		b.StartTimer()
		start = time.Now()
		sh := exec.Command("bash", "-c", manualUninstall)
		sh.Env = append(os.Environ(), "KUBECONFIG="+cluster.Kubeconfig, "KUBECTL="+kubectl)
		var out bytes.Buffer
		sh.Stdout, sh.Stderr = &out, &out
		if err := sh.Run(); err != nil {
			b.Fatalf("manual uninstall: %v\n%s", err, out.String())
		}
		manualTotal += time.Since(start)
		b.StopTimer()
		if n := strings.Count(out.String(), "deleted"); n == 0 {
			b.Fatalf("the manual sequence deleted nothing:\n%s", out.String())
		}
		// The manual sequence leaves the SCC and the OAuthClient; remove them for the next round.
		_ = exec.Command(kubectl, "--kubeconfig", cluster.Kubeconfig, "delete", "securitycontextconstraints", "rsync-anyuid", "--ignore-not-found").Run()
		_ = exec.Command(kubectl, "--kubeconfig", cluster.Kubeconfig, "delete", "oauthclients.oauth.openshift.io", "migration", "--ignore-not-found").Run()
		b.StartTimer()
	}
	b.ReportMetric(hooksTotal.Seconds()/float64(b.N), "hooks-s/op")
	b.ReportMetric(manualTotal.Seconds()/float64(b.N), "manual-s/op")
	b.ReportMetric(hooksTotal.Seconds()/manualTotal.Seconds(), "hooks/manual")
}

// bigCRD is a CRD of group <i>.bench.example.com whose schema is about size bytes of JSON, as the
// CRDs of a cluster with many operators are.
func bigCRD(i, size int) *unstructured.Unstructured {
	props := map[string]any{}
	desc := "a field of a large operator's custom resource, as described by its schema"
	for n := 0; n*(len(desc)+40) < size; n++ {
		props[fmt.Sprintf("field%04d", n)] = map[string]any{"type": "string", "description": desc}
	}
	group := fmt.Sprintf("g%03d.bench.example.com", i)
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
		"metadata": map[string]any{"name": "widgets." + group},
		"spec": map[string]any{
			"group": group, "scope": "Namespaced",
			"names": map[string]any{"plural": "widgets", "singular": "widget", "kind": "Widget", "listKind": "WidgetList"},
			"versions": []any{map[string]any{"name": "v1", "served": true, "storage": true,
				"schema": map[string]any{"openAPIV3Schema": map[string]any{"type": "object", "properties": map[string]any{
					"spec": map[string]any{"type": "object", "properties": props}}}}}},
		},
	}}
}

// BenchmarkIntegrationCleanupMemory runs mtc-hooks cleanup on a cluster that holds 300 CRDs of other
// operators, each with about 100 KB of schema, and reports the cleanup process's peak resident memory
// against the hook pod's memory limit (hooks.resources.limits.memory, 128 Mi).
func BenchmarkIntegrationCleanupMemory(b *testing.B) {
	cluster := controlPlane(b, "ocp4:4.17")
	dyn := dynamic.NewForConfigOrDie(cluster.Config)
	w := newWorld(b, kubernetes.NewForConfigOrDie(cluster.Config), dyn)
	var wg sync.WaitGroup
	errs := make(chan error, 300)
	sem := make(chan struct{}, 8)
	for i := range 300 {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			if _, err := dyn.Resource(kube.CRDs).Create(w.ctx, bigCRD(i, 100<<10), metav1.CreateOptions{}); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		b.Fatalf("create a CRD: %v", err)
	}
	bin, err := testenv.HookBinary()
	if err != nil {
		b.Fatal(err)
	}
	var peak int64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		w.installMTC(20)
		b.StartTimer()
		cmd := exec.Command(bin, "cleanup", "--step-timeout", "60s")
		cmd.Env = append(os.Environ(), "KUBECONFIG="+cluster.Kubeconfig)
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("mtc-hooks cleanup: %v\n%s", err, out)
		}
		if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
			peak = max(peak, ru.Maxrss) // KiB on Linux
		}
	}
	b.ReportMetric(float64(peak)/1024, "peak-MiB")
	b.ReportMetric(float64(peak)/1024/128, "of-limit")
}
