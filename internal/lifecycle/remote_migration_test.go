package lifecycle_test

import (
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/mtc-helm/mtc-helm/hooks/kube"
)

// On a remote cluster the MigMigration lives on the control cluster; what shows a migration here is
// the Velero Backup mig-controller made in openshift-migration. helm uninstall is refused while that
// Backup is in progress, in one sentence naming it and its plan, and leaves the install as it was;
// once the Backup has completed, the same uninstall goes through.
func TestIntegrationRemoteUninstallDuringMigration(t *testing.T) {
	t.Parallel()
	l := lab(t, "helm4")
	ctx := ctxFor(t)
	e := cluster(t, l, ocp417)
	if _, err := l.Install(ctx, e, "mtc-1.8", l.Values("remote.yaml")); err != nil {
		t.Fatal(err)
	}
	backups := e.Dynamic.Resource(kube.VeleroBackups).Namespace(ns)
	b := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "velero.io/v1", "kind": "Backup",
		"metadata": map[string]any{"name": "shop-1-stage-x7k2p", "namespace": ns, "labels": map[string]any{
			"migration.openshift.io/migrated-by-migplan": "0d5c7f4e-8d1a-4a57-9d0e-3f2b6a1c9e11",
			"migration.openshift.io/migplan-name":        "shop",
		}},
		"spec": map[string]any{"includedNamespaces": []any{"shop"}, "storageLocation": "source-1"},
	}}
	if _, err := backups.Create(ctx, b, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// Velero writes the phase into the object (its CRDs may have no status subresource).
	setPhase := func(phase string) {
		t.Helper()
		cur, err := backups.Get(ctx, b.GetName(), metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		cur.Object["status"] = map[string]any{"phase": phase}
		_, err = backups.UpdateStatus(ctx, cur, metav1.UpdateOptions{})
		if apierrors.IsNotFound(err) {
			_, err = backups.Update(ctx, cur, metav1.UpdateOptions{})
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	setPhase("InProgress")
	out, err := l.Run(ctx, e, "helm", "uninstall", "mtc", "-n", ns, "--timeout", "3m")
	if err == nil {
		t.Fatal("helm uninstall went through on a remote while a migration's Backup was in progress")
	}
	for _, want := range []string{"Velero Backup openshift-migration/shop-1-stage-x7k2p (InProgress)", "MigPlan shop", "nothing was deleted"} {
		if !strings.Contains(out, want) {
			t.Fatalf("the refusal does not say %q:\n%s", want, out)
		}
	}
	if _, err := e.Dynamic.Resource(kube.MigrationControllers).Namespace(ns).Get(ctx, "migration-controller", metav1.GetOptions{}); err != nil {
		t.Fatalf("the refused uninstall removed the MigrationController: %v", err)
	}
	setPhase("Completed")
	if _, err := l.Run(ctx, e, "helm", "uninstall", "mtc", "-n", ns, "--timeout", "3m"); err != nil {
		t.Fatalf("helm uninstall after the Backup completed: %v", err)
	}
}
