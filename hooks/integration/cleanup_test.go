package integration

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	"github.com/mtc-helm/mtc-helm/hooks/kube"
)

// TestIntegrationCleanup runs mtc-hooks cleanup on a 4.17 cluster holding an MTC install: refused while a
// migration runs (nothing deleted), then run twice (the second run deletes nothing), then killed mid-way
// and rerun.
func TestIntegrationCleanup(t *testing.T) {
	cluster := controlPlane(t, "ocp4:4.17")
	w := newWorld(t, kubernetes.NewForConfigOrDie(cluster.Config), dynamic.NewForConfigOrDie(cluster.Config))
	w.installMTC(3)

	t.Run("refused while a migration runs", func(t *testing.T) {
		w.t = t
		w.obj(kube.MigMigrations, "MigMigration", ns, "mig-running",
			map[string]any{"migPlanRef": map[string]any{"name": "plan-000", "namespace": ns}, "stage": true},
			map[string]any{"phase": "StageBackupCreated", "startTimestamp": "2026-01-01T00:00:00Z", "conditions": conditions("Running")["conditions"]})
		before := w.count(kube.MigPlans, ns) + w.count(kube.MigMigrations, ns) + w.count(kube.CRDs, "")
		r := hooks(t, cluster.Kubeconfig, "cleanup")
		wantExit(t, r, 1, "MigMigration openshift-migration/mig-running is still running", "nothing was deleted", "--during-migration")
		after := w.count(kube.MigPlans, ns) + w.count(kube.MigMigrations, ns) + w.count(kube.CRDs, "")
		if before != after || len(w.exports()) != 0 {
			t.Fatalf("a refused cleanup changed the cluster: %d objects before, %d after, %d exports", before, after, len(w.exports()))
		}
		w.setStatus(kube.MigMigrations, ns, "mig-running", map[string]any{"phase": "Completed", "conditions": conditions("Succeeded")["conditions"]})
	})

	t.Run("twice", func(t *testing.T) {
		w.t = t
		file := filepath.Join(t.TempDir(), "export.yaml")
		dry := hooks(t, cluster.Kubeconfig, "cleanup", "--dry-run")
		wantExit(t, dry, 0, "DRY RUN", "would close MigPlan openshift-migration/plan-000", "would delete CustomResourceDefinition migplans.migration.openshift.io")
		if len(w.exports()) != 0 || !w.exists(kube.MigPlans, ns, "plan-000") {
			t.Fatal("the dry run changed the cluster")
		}

		r := hooks(t, cluster.Kubeconfig, "cleanup", "--export", file, "--step-timeout", "30s")
		wantExit(t, r, 0, "MTC objects saved in ConfigMap mtc-export-", "result: ok")
		w.assertClean()
		exports := w.exports()
		if len(exports) != 1 || !strings.Contains(exports[0].Data["objects.yaml"], "name: mig-running") {
			t.Fatalf("want one export ConfigMap with the migration history, got %d", len(exports))
		}
		data, err := os.ReadFile(file)
		if err != nil || !strings.Contains(string(data), "kind: MigrationController") {
			t.Fatalf("export file: %v", err)
		}
		t.Logf("first cleanup took %s", r.elapsed)

		again := hooks(t, cluster.Kubeconfig, "cleanup")
		wantExit(t, again, 0, "result: ok")
		if strings.Contains(again.stdout, "deleted ") || strings.Contains(again.stdout, "export:") {
			t.Fatalf("the second run did something:\n%s", again)
		}
		if len(w.exports()) != 1 {
			t.Fatal("the second run exported again")
		}
	})

	t.Run("killed and rerun", func(t *testing.T) {
		w.t = t
		w.installMTC(60)
		migs := w.count(kube.MigMigrations, ns)
		// A finalizer of the test's holds one MigMigration, so the cleanup cannot finish before the kill
		// whatever the timing: it deletes the others and waits for that one.
		hold := []byte(`{"metadata":{"finalizers":["mtc-helm.io/test-hold"]}}`)
		if _, err := w.dyn.Resource(kube.MigMigrations).Namespace(ns).Patch(w.ctx, "mig-000", types.MergePatchType, hold, metav1.PatchOptions{}); err != nil {
			t.Fatal(err)
		}
		cmd, out, errb := hooksCmd(t, cluster.Kubeconfig, "cleanup", "--interval", "200ms")
		start := time.Now()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// Kill it once it has started deleting.
		deadline := time.Now().Add(60 * time.Second)
		for w.count(kube.MigMigrations, ns) == migs && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		_ = cmd.Process.Signal(syscall.SIGKILL)
		r := finish(t, cmd, out, errb, cmd.Wait(), start)
		if r.code == 0 {
			t.Fatalf("the cleanup finished while a finalizer held a MigMigration:\n%s", r)
		}
		release := []byte(`{"metadata":{"finalizers":null}}`)
		if _, err := w.dyn.Resource(kube.MigMigrations).Namespace(ns).Patch(w.ctx, "mig-000", types.MergePatchType, release, metav1.PatchOptions{}); err != nil {
			t.Fatal(err)
		}
		t.Logf("killed after %s with %d MigMigrations and %d MigPlans left", r.elapsed, w.count(kube.MigMigrations, ns), w.count(kube.MigPlans, ns))
		rerun := hooks(t, cluster.Kubeconfig, "cleanup", "--step-timeout", "30s")
		wantExit(t, rerun, 0, "result: ok")
		w.assertClean()
	})
}
