//go:build tools

// Package tools pins the Go modules whose commands the local control plane and the tests run:
// kube-apiserver, kube-controller-manager and kubectl from k8s.io/kubernetes, etcd, and the
// Helm 3 and Helm 4 CLIs. It lives in its own module so that k8s.io/kubernetes never enters
// the project's go.mod.
package tools

import (
	_ "helm.sh/helm/v3/cmd/helm"
	_ "helm.sh/helm/v4/cmd/helm"
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kubectl"
)
