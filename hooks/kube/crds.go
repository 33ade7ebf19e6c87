package kube

import (
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// CRDsV1beta1 is apiextensions.k8s.io/v1beta1, the only CRD API of Kubernetes 1.11 (OpenShift 3.11).
var CRDsV1beta1 = schema.GroupVersionResource{Group: CRDs.Group, Version: "v1beta1", Resource: CRDs.Resource}

// WithCRDs calls f with the CRD resource at apiextensions v1, and once more at v1beta1 when the server
// does not serve v1 (API servers older than 1.16). It returns the version f last ran with and f's error.
func WithCRDs(f func(gvr schema.GroupVersionResource) error) (schema.GroupVersionResource, error) {
	err := f(CRDs)
	if IsNotServed(err) {
		return CRDsV1beta1, f(CRDsV1beta1)
	}
	return CRDs, err
}

// CRDGroup is the API group of the CRD named name (<plural>.<group>).
func CRDGroup(name string) string {
	_, g, _ := strings.Cut(name, ".")
	return g
}

// OLMOwned says whether OLM made o for a CSV: labelled olm.owner, or owned by a ClusterServiceVersion.
func OLMOwned(o metav1.Object) bool {
	if o.GetLabels()["olm.owner"] != "" {
		return true
	}
	for _, r := range o.GetOwnerReferences() {
		if r.Kind == "ClusterServiceVersion" {
			return true
		}
	}
	return false
}

// SharedCRDVersion is the version OADP's bundles own a shared CRD at (SharedCRDs): v1 for velero.io,
// v2alpha1 for its data movement kinds, v1alpha1 for OADP's own groups.
func SharedCRDVersion(name string) string {
	switch {
	case name == "datauploads."+VeleroGroup || name == "datadownloads."+VeleroGroup:
		return "v2alpha1"
	case CRDGroup(name) == VeleroGroup:
		return "v1"
	}
	return "v1alpha1"
}

// OLMAggregateRoles are the ClusterRoles OLM makes for a CRD a CSV owns, at the version the CSV owns it:
// <crd>-<version>-admin, -edit and -view (aggregated into the cluster's admin, edit and view roles) and
// <crd>-<version>-crdview. The CRD owns them; OLM never deletes them while it stays.
func OLMAggregateRoles(crd, version string) []string {
	p := crd + "-" + version + "-"
	return []string{p + "admin", p + "edit", p + "view", p + "crdview"}
}
