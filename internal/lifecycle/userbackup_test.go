package lifecycle_test

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/mtc-helm/mtc-helm/hooks/kube"
)

// A user who made a Velero Backup of their own in openshift-migration, with the Velero MTC brought,
// keeps it through helm uninstall: the Backup is as it was, and so are the OADP that serves it and
// the velero.io CRDs; MTC's own operator and CRDs go.
func TestIntegrationUninstallKeepsAUsersBackupInMTCNamespace(t *testing.T) {
	t.Parallel()
	l := lab(t, "helm4")
	ctx := ctxFor(t)
	e := cluster(t, l, ocp417)
	if _, err := l.Install(ctx, e, "mtc-1.8", l.Values("control.yaml"), noRemotes(t, l, e)); err != nil {
		t.Fatal(err)
	}
	backup := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "velero.io/v1", "kind": "Backup",
		"metadata": map[string]any{"name": "before-upgrade-20261201", "namespace": ns, "labels": map[string]any{"team": "shop"}},
		"spec":     map[string]any{"includedNamespaces": []any{"shop"}, "ttl": "720h0m0s"},
	}}
	mine, err := e.Dynamic.Resource(kube.VeleroBackups).Namespace(ns).Create(ctx, backup, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Run(ctx, e, "helm", "uninstall", "mtc", "-n", ns, "--timeout", "4m"); err != nil {
		t.Fatal(err)
	}
	after, err := e.Dynamic.Resource(kube.VeleroBackups).Namespace(ns).Get(ctx, mine.GetName(), metav1.GetOptions{})
	if err != nil {
		t.Fatalf("the user's Backup is gone after helm uninstall: %v", err)
	}
	if after.GetUID() != mine.GetUID() || !equality.Semantic.DeepEqual(after.Object["spec"], mine.Object["spec"]) ||
		!equality.Semantic.DeepEqual(after.GetLabels(), mine.GetLabels()) {
		t.Fatalf("the user's Backup changed:\nbefore %v\nafter  %v", mine.Object, after.Object)
	}
	csvs, err := e.Dynamic.Resource(kube.CSVs).Namespace(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var oadp, mtc []string
	for _, c := range csvs.Items {
		switch n := c.GetName(); {
		case strings.HasPrefix(n, kube.OADPCSVPrefix) || strings.HasPrefix(n, "redhat-oadp-operator."):
			oadp = append(oadp, n)
		case strings.HasPrefix(n, "mtc-operator."):
			mtc = append(mtc, n)
		}
	}
	if len(oadp) == 0 || len(mtc) > 0 {
		t.Fatalf("after uninstall the namespace holds OADP CSVs %v and MTC CSVs %v; want OADP kept for the user's Backup and MTC gone", oadp, mtc)
	}
	for _, crd := range []struct {
		name string
		kept bool
	}{{"backups.velero.io", true}, {"backupstoragelocations.velero.io", true}, {"migplans.migration.openshift.io", false}} {
		_, err := e.Dynamic.Resource(kube.CRDs).Get(ctx, crd.name, metav1.GetOptions{})
		if gone := apierrors.IsNotFound(err); gone == crd.kept {
			t.Errorf("CRD %s: gone=%v (err %v), want kept=%v", crd.name, gone, err, crd.kept)
		}
	}
}
