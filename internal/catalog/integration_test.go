package catalog_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/mtc-helm/mtc-helm/internal/catalog"
	"github.com/mtc-helm/mtc-helm/internal/mtccrds"
	"github.com/mtc-helm/mtc-helm/internal/repo"
	"github.com/mtc-helm/mtc-helm/internal/testenv/envtest"
)

// TestIntegrationOpmValidate runs operator-registry's own validation (`opm validate`, which builds
// the model `opm serve` serves: packages, channels, replaces chains, bundle properties and objects)
// on the catalog of every minor.
func TestIntegrationOpmValidate(t *testing.T) {
	envtest.SkipIfShort(t)
	opm := opmBinary(t)
	crdDir, err := mtccrds.Dir()
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range catalog.Minors() {
		t.Run(m, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			if err := mustFor(t, m).WriteFBC(dir, crdDir); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			out, err := exec.CommandContext(ctx, opm, "validate", dir).CombinedOutput()
			if err != nil {
				t.Fatalf("opm validate of the OpenShift %s catalog: %v\n%s", m, err, out)
			}
		})
	}
}

// opmBinary returns bin/opm, or fails the test with the remedy.
func opmBinary(t *testing.T) string {
	t.Helper()
	root, err := repo.Root()
	if err != nil {
		t.Fatal(err)
	}
	opm := filepath.Join(root, "bin", "opm")
	if _, err := os.Stat(opm); err != nil {
		t.Fatalf("%s is missing: run `make tools` (ci/tools.sh olm builds it)", opm)
	}
	return opm
}
