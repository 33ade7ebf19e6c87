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
			out, err := Template(root, helm, chart, append([]string{"--show-only", "templates/hooks.yaml"}, Flavours["ocp4-ovn"].Args()...)...)
			if err != nil {
				t.Fatal(err)
			}
			var found bool
			for _, d := range decodeDocs(out) {
				var cr rbacv1.ClusterRole
				if err := yaml.Unmarshal(d, &cr); err != nil || cr.Kind != "ClusterRole" || cr.Labels["app.kubernetes.io/component"] != "hook-cleanup" {
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

// The cleanup's ClusterRole may delete cluster RBAC only by name: the ClusterRoles and bindings MTC's
// operator makes, the ClusterRoles OADP's bundle ships, and those OLM makes for the shared CRDs; no rule grants delete on every ClusterRole
// or binding (OLM's <csv>-<hash> RBAC is its finalizer's to delete).
func TestCleanupDeletesOnlyNamedClusterRBAC(t *testing.T) {
	root, helm := setup(t, "helm")
	roles := append(slices.Clone(kube.OperatorClusterRBAC), kube.OADPBundleClusterRoles...)
	for _, crd := range kube.SharedCRDs {
		roles = append(roles, kube.OLMAggregateRoles(crd, kube.SharedCRDVersion(crd))...)
	}
	want := map[string][]string{
		"clusterroles":        roles,
		"clusterrolebindings": slices.Clone(kube.OperatorClusterRBAC),
	}
	for _, chart := range Charts {
		t.Run(chart, func(t *testing.T) {
			out, err := Template(root, helm, chart, append([]string{"--show-only", "templates/hooks.yaml"}, Flavours["ocp4-ovn"].Args()...)...)
			if err != nil {
				t.Fatal(err)
			}
			got := map[string][]string{}
			for _, d := range decodeDocs(out) {
				var cr rbacv1.ClusterRole
				if err := yaml.Unmarshal(d, &cr); err != nil || cr.Kind != "ClusterRole" || cr.Labels["app.kubernetes.io/component"] != "hook-cleanup" {
					continue
				}
				for _, r := range cr.Rules {
					if !slices.ContainsFunc(r.Verbs, func(v string) bool { return v == "delete" || v == "deletecollection" || v == "*" }) {
						continue
					}
					for _, res := range r.Resources {
						if res != "clusterroles" && res != "clusterrolebindings" && res != "*" {
							continue
						}
						if len(r.ResourceNames) == 0 || res == "*" || slices.Contains(r.Verbs, "deletecollection") || slices.Contains(r.Verbs, "*") {
							t.Errorf("ClusterRole %s may %v every %s", cr.Name, r.Verbs, res)
							continue
						}
						got[res] = append(got[res], r.ResourceNames...)
					}
				}
			}
			for res, names := range want {
				slices.Sort(names)
				g := got[res]
				slices.Sort(g)
				if !slices.Equal(g, names) {
					t.Errorf("the cleanup may delete %s\n%v\nwant\n%v", res, g, names)
				}
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
