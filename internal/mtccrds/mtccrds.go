// Package mtccrds provides the CustomResourceDefinitions of MTC (migration.openshift.io) and Velero
// (velero.io) for tests and test doubles, with the real names, groups, versions, kinds, scopes and short
// names (see ../shared/reference/mtc-facts.md §4a, §4b):
//   - the ten kinds mig-controller serves get structural schemas written from its API types (schema.go)
//     and no status subresource, as in MTC's bundle; MigrationController keeps an open schema and has the
//     status subresource, as the ansible operator's CRD;
//   - Velero's kinds are the manifests of Velero's own module, which `make tools` copies into
//     bin/crds/velero, where that module ships the kind (Velero 1.14: not ResticRepository);
//   - the rest (ResticRepository, and every kind on Kubernetes 1.11, whose apiextensions v1beta1
//     predates structural schemas) are stand-ins with an open schema and the status subresource.
//
// Install applies them through apiextensions.k8s.io/v1, or v1beta1 on Kubernetes 1.11 (OCP 3.11), and
// waits until they are Established.
package mtccrds

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/dynamic"
	"sigs.k8s.io/yaml"

	"github.com/mtc-helm/mtc-helm/internal/repo"
)

// Kind describes one custom resource kind.
type Kind struct {
	Group, Version, Kind, Plural, Short string
}

// Name is the CRD's name, <plural>.<group>.
func (k Kind) Name() string { return k.Plural + "." + k.Group }

// GVR is the resource the CRD serves.
func (k Kind) GVR() schema.GroupVersionResource {
	return schema.GroupVersionResource{Group: k.Group, Version: k.Version, Resource: k.Plural}
}

// MTC are the 11 migration.openshift.io kinds of MTC 1.7 and 1.8, all v1alpha1 and Namespaced.
var MTC = []Kind{
	{"migration.openshift.io", "v1alpha1", "MigrationController", "migrationcontrollers", ""},
	{"migration.openshift.io", "v1alpha1", "MigCluster", "migclusters", ""},
	{"migration.openshift.io", "v1alpha1", "MigStorage", "migstorages", ""},
	{"migration.openshift.io", "v1alpha1", "MigPlan", "migplans", ""},
	{"migration.openshift.io", "v1alpha1", "MigMigration", "migmigrations", ""},
	{"migration.openshift.io", "v1alpha1", "MigHook", "mighooks", ""},
	{"migration.openshift.io", "v1alpha1", "MigAnalytic", "miganalytics", ""},
	{"migration.openshift.io", "v1alpha1", "DirectVolumeMigration", "directvolumemigrations", "dvm"},
	{"migration.openshift.io", "v1alpha1", "DirectVolumeMigrationProgress", "directvolumemigrationprogresses", "dvmp"},
	{"migration.openshift.io", "v1alpha1", "DirectImageMigration", "directimagemigrations", "dim"},
	{"migration.openshift.io", "v1alpha1", "DirectImageStreamMigration", "directimagestreammigrations", "dism"},
}

// Velero are the 11 velero.io v1 kinds the legacy operator (and OADP) install, all Namespaced.
var Velero = []Kind{
	{"velero.io", "v1", "Backup", "backups", ""},
	{"velero.io", "v1", "Schedule", "schedules", ""},
	{"velero.io", "v1", "Restore", "restores", ""},
	{"velero.io", "v1", "DownloadRequest", "downloadrequests", ""},
	{"velero.io", "v1", "DeleteBackupRequest", "deletebackuprequests", ""},
	{"velero.io", "v1", "PodVolumeBackup", "podvolumebackups", ""},
	{"velero.io", "v1", "PodVolumeRestore", "podvolumerestores", ""},
	{"velero.io", "v1", "ResticRepository", "resticrepositories", ""},
	{"velero.io", "v1", "BackupStorageLocation", "backupstoragelocations", ""},
	{"velero.io", "v1", "VolumeSnapshotLocation", "volumesnapshotlocations", ""},
	{"velero.io", "v1", "ServerStatusRequest", "serverstatusrequests", ""},
}

// Dir is the directory `make tools` fills with CRD manifests: bin/crds of the repository.
func Dir() (string, error) {
	root, err := repo.Root()
	if err != nil {
		return "", err
	}
	dir, err := repo.Tool(filepath.Join(root, "bin"), "crds/velero")
	if err != nil {
		return "", err
	}
	return filepath.Dir(dir), nil
}

// CRD renders the CRD of k as apiextensions.k8s.io/v1 or (apiVersion "v1beta1") v1beta1. crdDir is
// where Velero's manifests are (Dir); with "" (unit tests that run no API server) Velero's kinds are
// stand-ins too.
func CRD(k Kind, apiVersion, crdDir string) (*unstructured.Unstructured, error) {
	if apiVersion != "v1beta1" && k.Group == "velero.io" && crdDir != "" {
		p := filepath.Join(crdDir, "velero", k.Group+"_"+k.Plural+".yaml")
		data, err := os.ReadFile(p)
		if err == nil {
			u := &unstructured.Unstructured{}
			if err := yaml.Unmarshal(data, &u.Object); err != nil {
				return nil, fmt.Errorf("failed to read Velero's CRD manifest %s: %w", p, err)
			}
			return u, nil
		}
		if _, derr := os.Stat(filepath.Dir(p)); derr != nil {
			return nil, fmt.Errorf("%s is missing: run `make tools` to fetch Velero's CRDs", filepath.Dir(p))
		}
	}
	names := map[string]any{"kind": k.Kind, "listKind": k.Kind + "List", "plural": k.Plural, "singular": strings.ToLower(k.Kind)}
	if k.Short != "" {
		names["shortNames"] = []any{k.Short}
	}
	spec := map[string]any{"group": k.Group, "names": names, "scope": "Namespaced"}
	labels := map[string]any{}
	s, served := specs[k.Kind]
	served = served && k.Group == "migration.openshift.io"
	if !served {
		labels["mtc-helm.io/test-double"] = "true"
	}
	if apiVersion == "v1beta1" {
		spec["version"] = k.Version
		spec["versions"] = []any{map[string]any{"name": k.Version, "served": true, "storage": true}}
		if !served {
			spec["subresources"] = map[string]any{"status": map[string]any{}}
		}
	} else {
		apiVersion = "v1"
		v := map[string]any{"name": k.Version, "served": true, "storage": true, "schema": map[string]any{"openAPIV3Schema": openSchema()}}
		if served {
			v["schema"] = map[string]any{"openAPIV3Schema": kindSchema(s)}
			v["subresources"] = map[string]any{}
		} else {
			v["subresources"] = map[string]any{"status": map[string]any{}}
		}
		spec["versions"] = []any{v}
	}
	meta := map[string]any{"name": k.Name()}
	if len(labels) > 0 {
		meta["labels"] = labels
	}
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apiextensions.k8s.io/" + apiVersion,
		"kind":       "CustomResourceDefinition",
		"metadata":   meta,
		"spec":       spec,
	}}, nil
}

// Install creates the CRDs of kinds (those that exist are left alone) and waits until all are
// Established; crdDir is as for CRD.
func Install(ctx context.Context, dyn dynamic.Interface, crdDir string, kinds []Kind) error {
	gvr := schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}
	if _, err := dyn.Resource(gvr).List(ctx, metav1.ListOptions{Limit: 1}); apierrors.IsNotFound(err) {
		gvr.Version = "v1beta1"
	}
	for _, k := range kinds {
		// A CRD still being deleted cannot be created again; wait until it is gone.
		err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
			cur, err := dyn.Resource(gvr).Get(ctx, k.Name(), metav1.GetOptions{})
			if apierrors.IsNotFound(err) {
				return true, nil
			}
			return err == nil && cur.GetDeletionTimestamp() == nil, nil
		})
		if err != nil {
			return fmt.Errorf("CRD %s is still being deleted: %w", k.Name(), err)
		}
		crd, err := CRD(k, gvr.Version, crdDir)
		if err != nil {
			return err
		}
		_, err = dyn.Resource(gvr).Create(ctx, crd, metav1.CreateOptions{})
		if err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("failed to create CRD %s: %w", k.Name(), err)
		}
	}
	return wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		for _, k := range kinds {
			crd, err := dyn.Resource(gvr).Get(ctx, k.Name(), metav1.GetOptions{})
			if err != nil {
				return false, nil
			}
			conds, _, _ := unstructured.NestedSlice(crd.Object, "status", "conditions")
			ok := false
			for _, c := range conds {
				if m, _ := c.(map[string]any); m["type"] == "Established" && m["status"] == "True" {
					ok = true
				}
			}
			if !ok {
				return false, nil
			}
		}
		return true, nil
	})
}
