// Module crds pins the Go module whose CRD manifests the local cluster's OpenShift flavours
// install (as envtest users do): `make tools` copies the files it needs into bin/crds. OLM's own
// CRDs come from its module, pinned in tools/olm.
module github.com/mtc-helm/mtc-helm/tools/crds

go 1.26

require github.com/openshift/api v0.0.0-20260813212709-d4bb0b443cb8
