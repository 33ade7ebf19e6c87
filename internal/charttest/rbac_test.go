package charttest

import (
	"bytes"
	"slices"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	"sigs.k8s.io/yaml"

	"github.com/mtc-helm/mtc-helm/hooks/kube"
)

// The cleanup's ClusterRole may delete exactly the CRDs the cleanup knows, by name: the MTC kinds
// and OADP's shared CRDs, no other CRD of the cluster.
func TestCleanupDeletesOnlyNamedCRDs(t *testing.T) {
	root, helm := setup(t, "helm")
	want := append(kube.MTCCRDs(), kube.SharedCRDs...)
	slices.Sort(want)
	for _, chart := range Charts {
		t.Run(chart, func(t *testing.T) {
			out, err := Template(root, helm, chart, append([]string{"--show-only", "templates/hook-cleanup-rbac.yaml"}, Flavours["ocp4-ovn"].Args()...)...)
			if err != nil {
				t.Fatal(err)
			}
			var found bool
			for _, d := range decodeDocs(out) {
				var cr rbacv1.ClusterRole
				if err := yaml.Unmarshal(d, &cr); err != nil || cr.Kind != "ClusterRole" {
					continue
				}
				for _, r := range cr.Rules {
					if !slices.Contains(r.Resources, "customresourcedefinitions") {
						continue
					}
					if slices.Contains(r.Verbs, "delete") || slices.Contains(r.Verbs, "patch") {
						found = true
						got := slices.Clone(r.ResourceNames)
						slices.Sort(got)
						if !slices.Equal(got, want) {
							t.Errorf("ClusterRole %s may %v the CRDs\n%v\nwant\n%v", cr.Name, r.Verbs, got, want)
						}
					}
				}
			}
			if !found {
				t.Fatal("no cleanup ClusterRole rule deletes CRDs")
			}
		})
	}
}

// decodeDocs splits a rendered manifest into its YAML documents.
func decodeDocs(manifest []byte) [][]byte {
	var docs [][]byte
	for _, d := range bytes.Split(manifest, []byte("\n---")) {
		if len(bytes.TrimSpace(d)) > 0 {
			docs = append(docs, d)
		}
	}
	return docs
}
