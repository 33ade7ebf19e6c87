// Package integration holds the integration tests of mtc-hooks: the real binary, run as a subprocess
// against the local control plane of internal/testenv in each flavour (OpenShift 4.12 and 4.17, 3.11,
// plain Kubernetes). They are skipped under -short; run them with `make test`.
package integration
