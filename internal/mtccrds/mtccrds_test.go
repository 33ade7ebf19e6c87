package mtccrds

import (
	"os"
	"path/filepath"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

func version(t *testing.T, crd *unstructured.Unstructured) map[string]any {
	t.Helper()
	vs, _, _ := unstructured.NestedSlice(crd.Object, "spec", "versions")
	if len(vs) != 1 {
		t.Fatalf("%s: want one version, got %d", crd.GetName(), len(vs))
	}
	return vs[0].(map[string]any)
}

// TestMTCKindsHaveTheirShape checks that every kind mig-controller serves has a spec schema and no
// status subresource, and that MigrationController keeps an open schema with the status subresource.
func TestMTCKindsHaveTheirShape(t *testing.T) {
	for _, k := range MTC {
		crd, err := CRD(k, "v1", "")
		if err != nil {
			t.Fatal(err)
		}
		v := version(t, crd)
		_, status, _ := unstructured.NestedMap(v, "subresources", "status")
		open, _, _ := unstructured.NestedBool(v, "schema", "openAPIV3Schema", "x-kubernetes-preserve-unknown-fields")
		spec, _, _ := unstructured.NestedMap(v, "schema", "openAPIV3Schema", "properties", "spec", "properties")
		if k.Kind == "MigrationController" {
			if !status || !open {
				t.Errorf("MigrationController: want the status subresource and an open schema, got status %v open %v", status, open)
			}
			continue
		}
		if status || open || len(spec) == 0 {
			t.Errorf("%s: want a spec schema and no status subresource, got status %v open %v, %d spec fields", k.Kind, status, open, len(spec))
		}
		if crd.GetLabels()["mtc-helm.io/test-double"] != "" {
			t.Errorf("%s: a CRD with its real shape is labelled as a stand-in", k.Kind)
		}
	}
	// On Kubernetes 1.11 (apiextensions v1beta1, no structural schemas) every kind is a stand-in.
	crd, err := CRD(MTC[2], "v1beta1", "")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := unstructured.NestedMap(crd.Object, "spec", "subresources", "status"); ok {
		t.Errorf("MigStorage on v1beta1 has the status subresource")
	}
}

func TestVeleroKindsComeFromTheDirectory(t *testing.T) {
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "velero"), 0o755); err != nil {
		t.Fatal(err)
	}
	manifest := "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n  name: backups.velero.io\nspec:\n  group: velero.io\n"
	if err := os.WriteFile(filepath.Join(dir, "velero", "velero.io_backups.yaml"), []byte(manifest), 0o644); err != nil {
		t.Fatal(err)
	}
	backup, restic := Velero[0], Velero[7]
	crd, err := CRD(backup, "v1", dir)
	if err != nil {
		t.Fatal(err)
	}
	if crd.GetName() != "backups.velero.io" || crd.GetLabels()["mtc-helm.io/test-double"] != "" {
		t.Errorf("Backup: want the manifest from the directory, got %v", crd.Object)
	}
	// Velero 1.14 ships no ResticRepository: a stand-in.
	crd, err = CRD(restic, "v1", dir)
	if err != nil {
		t.Fatal(err)
	}
	if restic.Kind != "ResticRepository" || crd.GetLabels()["mtc-helm.io/test-double"] != "true" {
		t.Errorf("%s: want a stand-in, got %v", restic.Kind, crd.Object)
	}
	if _, err := CRD(backup, "v1", filepath.Join(dir, "missing")); err == nil {
		t.Error("a directory without Velero's manifests: want an error that says to run make tools")
	}
}
