// Package envtest holds what tests share on top of testenv: the test-bound start and stop of an
// environment, the -short switch, the leak check of TestMain, polling assertions and object builders.
// It is the only part of the lab that links the testing package, so the commands do not.
package envtest

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/mtc-helm/mtc-helm/internal/localcluster"
	"github.com/mtc-helm/mtc-helm/internal/repo"
	"github.com/mtc-helm/mtc-helm/internal/testenv"
)

// Tool returns the path of a command built into the environment's bin/ (kubectl, helm, helm4), or
// fails t with the remedy.
func Tool(t testing.TB, e *testenv.Env, name string) string {
	t.Helper()
	p, err := repo.Tool(e.Bin, name)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// ForTest starts an environment for one test or package and stops it when t ends. Integration
// tests call it; under -short it skips the test.
func ForTest(t testing.TB, f localcluster.Flavour) *testenv.Env {
	t.Helper()
	SkipIfShort(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	e, err := testenv.Start(ctx, testenv.Options{Flavour: f})
	if err != nil {
		t.Fatalf("local cluster %s: %v", f, err)
	}
	t.Cleanup(e.Stop)
	return e
}

// SkipIfShort skips integration tests under -short, saying how to run them.
func SkipIfShort(t testing.TB) {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test: needs the local control plane; run `make test` (or go test without -short after `make tools`)")
	}
}

// Main runs a package's tests and then fails the run if any process they started still runs.
// Use it as `func TestMain(m *testing.M) { envtest.Main(m) }`.
func Main(m *testing.M) {
	code := m.Run()
	testenv.Cleanup()
	if leaked := testenv.Leaked(); len(leaked) > 0 {
		fmt.Fprintf(os.Stderr, "processes started by the tests still run after them: %v\n", leaked)
		if code == 0 {
			code = 1
		}
	}
	os.Exit(code)
}

// OLM's kinds the tests create.
var (
	OperatorGroups = schema.GroupVersionResource{Group: "operators.coreos.com", Version: "v1", Resource: "operatorgroups"}
	Subscriptions  = schema.GroupVersionResource{Group: "operators.coreos.com", Version: "v1alpha1", Resource: "subscriptions"}
)

// DoublesEnv starts a local cluster of flavour f with the doubles running (testenv.Options.Doubles)
// and stops it when t ends; it skips under -short. Its progress goes to the test's output.
func DoublesEnv(t *testing.T, f localcluster.Flavour) *testenv.Env {
	t.Helper()
	SkipIfShort(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	e, err := testenv.Start(ctx, testenv.Options{Flavour: f, Doubles: true, Storage: f.Kind != localcluster.Kubernetes, Log: t.Output()})
	if err != nil {
		t.Fatalf("local cluster %s with doubles: %v", f, err)
	}
	t.Cleanup(e.Stop)
	return e
}

// Eventually polls check every 200ms until it reports true or timeout passes; then it fails t with
// the last note.
func Eventually(t testing.TB, timeout time.Duration, what string, check func(ctx context.Context) (bool, string)) {
	t.Helper()
	var note string
	err := wait.PollUntilContextTimeout(context.Background(), 200*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
		var ok bool
		ok, note = check(ctx)
		return ok, nil
	})
	if err != nil {
		t.Fatalf("%s: not within %s (last: %s)", what, timeout, note)
	}
}

// Never checks for the whole of d that bad stays false.
func Never(t testing.TB, d time.Duration, what string, bad func(ctx context.Context) (bool, string)) {
	t.Helper()
	end := time.Now().Add(d)
	for time.Now().Before(end) {
		if b, note := bad(context.Background()); b {
			t.Fatalf("%s: %s", what, note)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// Obj builds an unstructured object.
func Obj(apiVersion, kind, ns, name string, fields map[string]any) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{"apiVersion": apiVersion, "kind": kind}}
	for k, v := range fields {
		u.Object[k] = v
	}
	u.SetName(name)
	u.SetNamespace(ns)
	return u
}

// Create creates u through gvr or fails t.
func Create(t testing.TB, e *testenv.Env, gvr schema.GroupVersionResource, u *unstructured.Unstructured) *unstructured.Unstructured {
	t.Helper()
	out, err := e.Dynamic.Resource(gvr).Namespace(u.GetNamespace()).Create(context.Background(), u, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create %s %s/%s: %v", u.GetKind(), u.GetNamespace(), u.GetName(), err)
	}
	return out
}

// Namespace creates a namespace or fails t.
func Namespace(t testing.TB, e *testenv.Env, name string) {
	t.Helper()
	_, err := e.Client.CoreV1().Namespaces().Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatalf("create namespace %s: %v", name, err)
	}
}

// Get returns the object, or nil with a note when it cannot be read.
func Get(ctx context.Context, e *testenv.Env, gvr schema.GroupVersionResource, ns, name string) (*unstructured.Unstructured, string) {
	u, err := e.Dynamic.Resource(gvr).Namespace(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return nil, fmt.Sprintf("get %s %s/%s: %v", gvr.Resource, ns, name, err)
	}
	return u, ""
}

// Str reads a nested string field.
func Str(u *unstructured.Unstructured, path ...string) string {
	s, _, _ := unstructured.NestedString(u.Object, path...)
	return s
}

// Gone reports whether the object no longer exists.
func Gone(ctx context.Context, e *testenv.Env, gvr schema.GroupVersionResource, ns, name string) (bool, string) {
	_, err := e.Dynamic.Resource(gvr).Namespace(ns).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return true, ""
	}
	return false, fmt.Sprintf("%s %s/%s still there (%v)", gvr.Resource, ns, name, err)
}
