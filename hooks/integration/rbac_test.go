package integration

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	authv1 "k8s.io/api/authentication/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	"github.com/mtc-helm/mtc-helm/internal/localcluster"
	"github.com/mtc-helm/mtc-helm/internal/repo"
)

// chartRBAC renders the ServiceAccount, Roles and bindings the chart gives one hook.
func chartRBAC(t *testing.T, chart, hook string) []*unstructured.Unstructured {
	t.Helper()
	root, err := repo.Root()
	if err != nil {
		t.Fatal(err)
	}
	deps := exec.Command(filepath.Join(root, "ci", "charts.sh"), "deps")
	if out, err := deps.CombinedOutput(); err != nil {
		t.Fatalf("ci/charts.sh deps: %v\n%s", err, out)
	}
	template := "templates/hooks.yaml"
	if hook == "test" {
		template = "templates/tests/test-rbac.yaml"
	}
	cmd := exec.Command(filepath.Join(root, "bin", "helm"), "template", "mtc", filepath.Join(root, "charts", chart),
		"--namespace", ns, "--show-only", template)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("helm template: %v\n%s", err, errb.String())
	}
	var objs []*unstructured.Unstructured
	dec := utilyaml.NewYAMLOrJSONDecoder(&out, 4096)
	for {
		u := &unstructured.Unstructured{}
		if err := dec.Decode(&u.Object); err != nil {
			break
		}
		if len(u.Object) > 0 && u.GetKind() != "Job" && u.GetLabels()["app.kubernetes.io/component"] == "hook-"+hook {
			objs = append(objs, u)
		}
	}
	if len(objs) == 0 {
		t.Fatalf("the chart renders no RBAC for hook %s", hook)
	}
	return objs
}

var rbacResources = map[string]schema.GroupVersionResource{
	"ServiceAccount":     {Version: "v1", Resource: "serviceaccounts"},
	"Role":               {Group: "rbac.authorization.k8s.io", Version: "v1", Resource: "roles"},
	"RoleBinding":        {Group: "rbac.authorization.k8s.io", Version: "v1", Resource: "rolebindings"},
	"ClusterRole":        {Group: "rbac.authorization.k8s.io", Version: "v1", Resource: "clusterroles"},
	"ClusterRoleBinding": {Group: "rbac.authorization.k8s.io", Version: "v1", Resource: "clusterrolebindings"},
}

// applyRBAC creates (or replaces) the objects and returns a kubeconfig that authenticates as the hook's
// ServiceAccount.
func applyRBAC(t *testing.T, c *localcluster.Cluster, dyn dynamic.Interface, kc kubernetes.Interface, objs []*unstructured.Unstructured) string {
	t.Helper()
	ctx := context.Background()
	var sa string
	for _, o := range objs {
		gvr, ok := rbacResources[o.GetKind()]
		if !ok {
			t.Fatalf("unexpected %s in the hook's RBAC", o.GetKind())
		}
		res := dyn.Resource(gvr).Namespace(o.GetNamespace())
		if o.GetKind() == "ClusterRole" || o.GetKind() == "ClusterRoleBinding" {
			res = dyn.Resource(gvr)
		}
		_ = res.Delete(ctx, o.GetName(), metav1.DeleteOptions{})
		if _, err := res.Create(ctx, o, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			t.Fatalf("create %s %s: %v", o.GetKind(), o.GetName(), err)
		}
		if o.GetKind() == "ServiceAccount" {
			sa = o.GetName()
		}
	}
	exp := int64(3600)
	tr, err := kc.CoreV1().ServiceAccounts(ns).CreateToken(ctx, sa, &authv1.TokenRequest{Spec: authv1.TokenRequestSpec{ExpirationSeconds: &exp}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("token for %s: %v", sa, err)
	}
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(path, localcluster.KubeconfigBytes(c.URL, c.Config.CAData, "system:serviceaccount:"+ns+":"+sa, tr.Status.Token, ns), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// withoutVerb removes verb from the rule of the ClusterRole or Role that grants it on resource.
func withoutVerb(t *testing.T, objs []*unstructured.Unstructured, resource, verb string) []*unstructured.Unstructured {
	t.Helper()
	out := make([]*unstructured.Unstructured, len(objs))
	found := false
	for i, o := range objs {
		o = o.DeepCopy()
		out[i] = o
		rules, _, _ := unstructured.NestedSlice(o.Object, "rules")
		var keptRules []any
		for _, r := range rules {
			m := r.(map[string]any)
			res, _ := m["resources"].([]any)
			verbs, _ := m["verbs"].([]any)
			if !contains(res, resource) || !contains(verbs, verb) {
				keptRules = append(keptRules, r)
				continue
			}
			var kept []any
			for _, v := range verbs {
				if v != verb {
					kept = append(kept, v)
				}
			}
			m["verbs"] = kept
			found = true
			if len(kept) > 0 {
				keptRules = append(keptRules, m)
			}
		}
		if rules != nil {
			_ = unstructured.SetNestedSlice(o.Object, keptRules, "rules")
		}
	}
	if !found {
		t.Fatalf("no rule grants %s on %s", verb, resource)
	}
	return out
}

func contains(l []any, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

// TestIntegrationHookRBAC runs hooks as their chart-given ServiceAccounts: with exactly the chart's rules
// they succeed; with one verb taken away they fail with the Forbidden sentence.
func TestIntegrationHookRBAC(t *testing.T) {
	cluster := controlPlane(t, "ocp4:4.17")
	kc := kubernetes.NewForConfigOrDie(cluster.Config)
	dyn := dynamic.NewForConfigOrDie(cluster.Config)
	w := newWorld(t, kc, dyn)
	w.namespace(ns)

	t.Run("version-check with the chart's rules", func(t *testing.T) {
		w.t = t
		objs := chartRBAC(t, "mtc-1.8", "version-check")
		kcfg := applyRBAC(t, cluster, dyn, kc, objs)
		wantExit(t, hooks(t, kcfg, "version-check", "--mtc-version", "1.8.8", "--release", "mtc"), 0, "result:    ok")
	})
	t.Run("version-check without list on subscriptions", func(t *testing.T) {
		w.t = t
		objs := withoutVerb(t, chartRBAC(t, "mtc-1.8", "version-check"), "subscriptions", "list")
		kcfg := applyRBAC(t, cluster, dyn, kc, objs)
		r := hooks(t, kcfg, "version-check", "--mtc-version", "1.8.8")
		wantExit(t, r, 1, "cannot list OLM Subscriptions in all namespaces: the API server said",
			"cannot list resource", "grant that verb to the hook's ServiceAccount")
	})
	t.Run("cleanup with the chart's rules", func(t *testing.T) {
		w.t = t
		w.installMTC(2)
		w.ownedBy("mtc")
		kcfg := applyRBAC(t, cluster, dyn, kc, chartRBAC(t, "mtc-1.8", "cleanup"))
		wantExit(t, hooks(t, kcfg, "cleanup", "--step-timeout", "30s", "--release", "mtc"), 0, "result: ok")
		w.assertClean()
	})
	// kubectl auth can-i, as the cleanup's ServiceAccount with each chart's rules: it may delete MTC's
	// and OADP's CRDs and cluster RBAC by name, and nothing else of the cluster scope.
	for _, chart := range []string{"mtc-1.7", "mtc-1.8"} {
		t.Run("cleanup can-i matrix "+chart, func(t *testing.T) {
			kcfg := applyRBAC(t, cluster, dyn, kc, chartRBAC(t, chart, "cleanup"))
			root, err := repo.Root()
			if err != nil {
				t.Fatal(err)
			}
			kubectl := filepath.Join(root, "bin", "kubectl")
			for _, tc := range []struct {
				verb, what string
				want       bool
			}{
				{"delete", "customresourcedefinitions/migplans.migration.openshift.io", true},
				{"delete", "customresourcedefinitions/migrationcontrollers.migration.openshift.io", true},
				{"delete", "customresourcedefinitions/backups.velero.io", true},
				{"delete", "customresourcedefinitions/dataprotectionapplications.oadp.openshift.io", true},
				{"delete", "customresourcedefinitions/volumesnapshotbackups.datamover.oadp.openshift.io", true},
				{"delete", "clusterroles/migration-controller", true},
				{"delete", "clusterroles/migration-velero", true},
				{"delete", "clusterroles/dpa-editor-role", true},
				{"delete", "clusterroles/backups.velero.io-v1-admin", true},
				{"delete", "clusterroles/datauploads.velero.io-v2alpha1-crdview", true},
				{"delete", "clusterrolebindings/migration-controller", true},
				{"delete", "clusterrolebindings/migration-velero", true},
				// not MTC's or OADP's
				{"delete", "customresourcedefinitions", false},
				{"deletecollection", "customresourcedefinitions", false},
				{"delete", "customresourcedefinitions/certificates.cert-manager.io", false},
				{"delete", "customresourcedefinitions/subscriptions.operators.coreos.com", false},
				{"delete", "customresourcedefinitions/widgets.velero.example.com", false},
				{"delete", "clusterroles", false},
				{"deletecollection", "clusterroles", false},
				{"delete", "clusterroles/cluster-admin", false},
				{"delete", "clusterroles/velero-view", false},
				{"delete", "clusterroles/audit.migration.openshift.io-reader", false},
				{"delete", "clusterroles/other-operator.v2.0.0-abcde", false},
				{"delete", "clusterroles/admin", false},
				{"delete", "clusterroles/widgets.example.com-v1-admin", false},
				{"delete", "clusterrolebindings", false},
				{"delete", "clusterrolebindings/cluster-admin", false},
				{"delete", "clusterrolebindings/team-velero-viewers", false},
				{"delete", "clusterrolebindings/dpa-editor-role", false},
				{"create", "clusterroles", false},
				{"update", "clusterroles/migration-controller", false},
				{"patch", "clusterroles/migration-controller", false},
				{"escalate", "clusterroles/migration-controller", false},
				{"bind", "clusterroles/cluster-admin", false},
			} {
				out, err := exec.Command(kubectl, "--kubeconfig", kcfg, "auth", "can-i", tc.verb, tc.what).CombinedOutput()
				var exit *exec.ExitError
				if err != nil && !errors.As(err, &exit) {
					t.Fatalf("kubectl auth can-i: %v\n%s", err, out)
				}
				if got := err == nil; got != tc.want {
					t.Errorf("can-i %s %s: got %s, want %v", tc.verb, tc.what, strings.TrimSpace(string(out)), tc.want)
				}
			}
		})
	}
	t.Run("cleanup without delete on CRDs", func(t *testing.T) {
		w.t = t
		w.installMTC(1)
		objs := withoutVerb(t, chartRBAC(t, "mtc-1.8", "cleanup"), "customresourcedefinitions", "delete")
		kcfg := applyRBAC(t, cluster, dyn, kc, objs)
		r := hooks(t, kcfg, "cleanup", "--step-timeout", "30s")
		wantExit(t, r, 1, "cannot delete CustomResourceDefinition", "the API server said",
			"grant that verb to the hook's ServiceAccount (hooks/README.md lists what each hook needs)")
		if strings.Count(strings.TrimSpace(r.stderr[strings.LastIndex(r.stderr, "error: "):]), "\n") > 0 {
			t.Errorf("the error is more than one line:\n%s", r.stderr)
		}
	})
}
