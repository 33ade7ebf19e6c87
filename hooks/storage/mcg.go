package storage

import (
	"context"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	"github.com/mtc-helm/mtc-helm/hooks/kube"
)

// Where OpenShift Data Foundation keeps the Multicloud Object Gateway's S3 endpoint and admin keys:
// the NooBaa resource's status (what `oc describe noobaa` shows, as the MTC procedure tells a person
// to read) names the S3 service's external addresses and the admin account's Secret.
const (
	ODFNamespace = "openshift-storage"
	NooBaaName   = "noobaa"
	// MCGAdminSecret is the Secret NooBaa's status names by default.
	MCGAdminSecret = "noobaa-admin"
	// IngressCA is the ConfigMap (openshift-config-managed) whose ca-bundle.crt signed the routers'
	// default certificate, which the S3 Route of MCG serves.
	IngressCANamespace = "openshift-config-managed"
	IngressCA          = "default-ingress-cert"
	// MCGDiscoverAnnotation on a MigStorage tells configure to fill its endpoint, CA and Secret from
	// OpenShift Data Foundation.
	MCGDiscoverAnnotation = "mtc-helm.io/mcg-discover"
)

// NooBaas is noobaa.io/v1alpha1 NooBaa.
var NooBaas = schema.GroupVersionResource{Group: "noobaa.io", Version: "v1alpha1", Resource: "noobaas"}

// MCG is what OpenShift Data Foundation says about its Multicloud Object Gateway.
type MCG struct {
	Endpoint                     string
	AccessKeyID, SecretAccessKey string
	// CA is the ingress CA, when the cluster lets the hook read it.
	CA []byte
}

// DiscoverMCG reads the NooBaa resource, its admin Secret and the ingress CA. A cluster without
// OpenShift Data Foundation is refused in one sentence.
func DiscoverMCG(ctx context.Context, kc kubernetes.Interface, dyn dynamic.Interface, host string) (*MCG, error) {
	nb, err := dyn.Resource(NooBaas).Namespace(ODFNamespace).Get(ctx, NooBaaName, metav1.GetOptions{})
	if apierrors.IsNotFound(err) || kube.IsNotServed(err) {
		return nil, kube.Refusef("storage-check: provider mcg without credentials reads them from OpenShift Data Foundation, but this cluster has no NooBaa %s/%s; install OpenShift Data Foundation with the Multicloud Object Gateway, or set replicationRepository.endpoint and credentials (or existingSecret) of another S3 store",
			ODFNamespace, NooBaaName)
	}
	if err != nil {
		return nil, kube.Explain(err, "read NooBaa "+ODFNamespace+"/"+NooBaaName, host)
	}
	m := &MCG{}
	dns, _, _ := unstructured.NestedStringSlice(nb.Object, "status", "services", "serviceS3", "externalDNS")
	for _, u := range dns {
		if strings.HasPrefix(u, "https://") {
			m.Endpoint = strings.TrimSuffix(u, "/")
			break
		}
	}
	if m.Endpoint == "" {
		return nil, kube.Refusef("storage-check: NooBaa %s/%s lists no https S3 address in status.services.serviceS3.externalDNS (the Multicloud Object Gateway is not ready, or its S3 Route is missing); wait for OpenShift Data Foundation to be ready, or set replicationRepository.endpoint",
			ODFNamespace, NooBaaName)
	}
	name, _, _ := unstructured.NestedString(nb.Object, "status", "accounts", "admin", "secretRef", "name")
	ns, _, _ := unstructured.NestedString(nb.Object, "status", "accounts", "admin", "secretRef", "namespace")
	if name == "" {
		name = MCGAdminSecret
	}
	if ns == "" {
		ns = ODFNamespace
	}
	if name != MCGAdminSecret || ns != ODFNamespace {
		return nil, kube.Refusef("storage-check: NooBaa %s/%s names its admin Secret %s/%s, not %s/%s that the chart may read; set replicationRepository credentials or existingSecret",
			ODFNamespace, NooBaaName, ns, name, ODFNamespace, MCGAdminSecret)
	}
	s, err := kc.CoreV1().Secrets(ns).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, kube.Refusef("storage-check: the Multicloud Object Gateway's admin Secret %s/%s does not exist yet; wait for OpenShift Data Foundation to be ready, or set replicationRepository credentials", ns, name)
	}
	if err != nil {
		return nil, kube.Explain(err, "read Secret "+ns+"/"+name, host)
	}
	m.AccessKeyID, m.SecretAccessKey = string(s.Data["AWS_ACCESS_KEY_ID"]), string(s.Data["AWS_SECRET_ACCESS_KEY"])
	if m.AccessKeyID == "" || m.SecretAccessKey == "" {
		return nil, kube.Refusef("storage-check: Secret %s/%s lacks AWS_ACCESS_KEY_ID or AWS_SECRET_ACCESS_KEY; wait for OpenShift Data Foundation to be ready, or set replicationRepository credentials", ns, name)
	}
	cm, err := kc.CoreV1().ConfigMaps(IngressCANamespace).Get(ctx, IngressCA, metav1.GetOptions{})
	switch {
	case err == nil:
		m.CA = []byte(cm.Data["ca-bundle.crt"])
	case apierrors.IsNotFound(err) || apierrors.IsForbidden(err):
		// No ingress CA to add: the S3 Route then needs a certificate the system roots trust.
	default:
		return nil, kube.Explain(err, "read ConfigMap "+IngressCANamespace+"/"+IngressCA, host)
	}
	return m, nil
}

// Credentials are the MigStorage Secret's keys of the discovered admin account.
func (m *MCG) Credentials() map[string][]byte {
	return map[string][]byte{KeyAccessKeyID: []byte(m.AccessKeyID), KeySecretAccessKey: []byte(m.SecretAccessKey)}
}
