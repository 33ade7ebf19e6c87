package lifecycle_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// A helm upgrade with a value the MTC operator rejects fails with the operator's message, although the
// MigrationController still says Successful from the run before the apply; the next upgrade, with the
// value fixed, succeeds although the Failure of the rejected run is still there when it applies.
// The rejected value: a controller CPU request above its limit, which the chart's schema accepts (each
// is a valid quantity) and the API server refuses in the Deployment the operator's role applies.
func TestIntegrationUpgradeRejectedThenFixed(t *testing.T) {
	t.Parallel()
	l := lab(t, "helm4")
	ctx := ctxFor(t)
	e := cluster(t, l, ocp417)
	local := noRemotes(t, l, e)
	if _, err := l.Install(ctx, e, "mtc-1.8", l.Values("control.yaml"), local); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	override := func(name, limit string) string {
		p := filepath.Join(dir, name)
		body := "migrationController:\n  controllerResources:\n    limits: {cpu: \"" + limit + "\"}\n    requests: {cpu: 500m}\n"
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	upgrade := func(values string) (string, error) {
		return l.Run(ctx, e, "helm", "upgrade", "mtc", l.Chart("mtc-1.8"), "-n", ns, "--timeout", "4m",
			"-f", l.Values("control.yaml"), "-f", local, "-f", values)
	}
	out, err := upgrade(override("rejected.yaml", "100m"))
	if err == nil {
		t.Fatalf("the upgrade with a CPU request above its limit succeeded:\n%s", out)
	}
	for _, want := range []string{"the MTC operator failed to reconcile MigrationController openshift-migration/migration-controller", "must be less than or equal to cpu limit"} {
		if !strings.Contains(out+err.Error(), want) {
			t.Fatalf("the refused upgrade does not say %q:\n%s\n%v", want, out, err)
		}
	}
	if _, err := upgrade(override("fixed.yaml", "1")); err != nil {
		t.Fatalf("the fixed upgrade was refused: %v", err)
	}
	dep, err := e.Client.AppsV1().Deployments(ns).Get(ctx, "migration-controller", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := dep.Spec.Template.Spec.Containers[0].Resources.Requests.Cpu().String(); got != "500m" {
		t.Fatalf("the controller's CPU request is %s after the fixed upgrade, want 500m", got)
	}
}
