package kube

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
)

// CRDsV1beta1 is apiextensions.k8s.io/v1beta1, the only CRD API of Kubernetes 1.11 (OpenShift 3.11).
var CRDsV1beta1 = schema.GroupVersionResource{Group: CRDs.Group, Version: "v1beta1", Resource: CRDs.Resource}

// WithCRDs calls f with the CRD API at apiextensions v1, and once more at v1beta1 when the server does
// not serve v1 (API servers older than 1.16). It returns the version f last ran against and f's error.
func WithCRDs(dyn dynamic.Interface, f func(r dynamic.NamespaceableResourceInterface) error) (schema.GroupVersionResource, error) {
	err := f(dyn.Resource(CRDs))
	if IsNotServed(err) {
		return CRDsV1beta1, f(dyn.Resource(CRDsV1beta1))
	}
	return CRDs, err
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
