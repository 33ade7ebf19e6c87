# mtc-helm: Helm charts and hook binaries for the Migration Toolkit for Containers.
# `make demo` and `make test` are the two commands; everything else is a step of theirs.
SHELL := /bin/bash
.DEFAULT_GOAL := help
export GOFLAGS := -mod=mod


BIN := $(CURDIR)/bin
TOOLS_MOD := tools/go.mod tools/go.sum
KUBE_BINS := $(BIN)/etcd $(BIN)/kube-apiserver $(BIN)/kube-controller-manager $(BIN)/kubectl
K111_BINS := $(BIN)/k8s-1.11/kube-apiserver $(BIN)/k8s-1.11/kube-controller-manager
K111_BUILD ?= $(abspath $(CURDIR)/../shared/k8s-1.11/build.sh)
export K111_BUILD
FLAVOUR ?= ocp4
VERSION ?= 4.17
NETWORK ?= OVNKubernetes
TEST_TIMEOUT ?= 50m

.PHONY: help
help: ## list the targets
	@awk 'BEGIN{FS=":.*## "} /^[a-zA-Z0-9_.-]+:.*## /{printf "  %-14s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: check-go
check-go:
	@ci/check-go.sh

.PHONY: tools
OLM_BINS := $(BIN)/olm $(BIN)/catalog $(BIN)/opm
OLM_MOD := tools/olm/go.mod tools/olm/go.sum
STORAGE_BINS := $(BIN)/versitygw $(BIN)/fake-gcs-server
AZURITE := $(BIN)/azurite/node_modules/.bin/azurite-blob

tools: check-go $(KUBE_BINS) $(BIN)/helm $(BIN)/helm4 $(K111_BINS) $(OLM_BINS) $(BIN)/crds/.done $(STORAGE_BINS) $(AZURITE) ## build the control planes, OLM, kubectl, both Helm CLIs and the lab's object storage into bin/ (incremental)

$(KUBE_BINS) &: $(TOOLS_MOD) tools/cmd/etcd/main.go ci/tools.sh
	@ci/tools.sh kube

$(BIN)/helm: $(TOOLS_MOD) ci/tools.sh
	@ci/tools.sh helm3

$(BIN)/helm4: $(TOOLS_MOD) ci/tools.sh
	@ci/tools.sh helm4

$(K111_BINS) &: $(K111_BUILD)
	@ci/tools.sh k111

$(OLM_BINS) &: $(OLM_MOD) ci/tools.sh
	@ci/tools.sh olm

$(STORAGE_BINS) &: tools/storage/go.mod tools/storage/go.sum ci/tools.sh
	@ci/tools.sh storage

$(AZURITE): tools/azurite/package.json tools/azurite/package-lock.json ci/tools.sh
	@ci/tools.sh azurite

$(BIN)/crds/.done: tools/crds/go.mod tools/crds/go.sum $(OLM_MOD) ci/tools.sh
	@ci/tools.sh crds
	@touch $@

.PHONY: build
build: check-go ## build the mtc-hooks binary (static) into bin/
	@CGO_ENABLED=0 go build -trimpath -o $(BIN)/mtc-hooks ./cmd/mtc-hooks

.PHONY: charts
charts: ## vendor the library chart into the versioned charts
	@if [ -x ci/charts.sh ]; then ci/charts.sh deps; fi

.PHONY: image
image: check-go ## build the mtc-hooks image for amd64, arm64, ppc64le and s390x as an OCI layout in bin/image/mtc-hooks
	@go run ./cmd/mtc-image --out $(BIN)/image/mtc-hooks

.PHONY: package
package: tools image ## package the charts into dist/ (KEYRING=secring.gpg KEY=name to sign; PUSH=oci://host/charts USERNAME=u with MTC_REGISTRY_PASSWORD to push)
	@go run ./cmd/mtc-package --out dist $(if $(KEYRING),--keyring "$(KEYRING)" --key "$(KEY)") $(if $(PUSH),--push "$(PUSH)" --username "$(USERNAME)")

.PHONY: bump
bump: tools ## move a chart to a new MTC z-stream: CHART=mtc-1.8 VERSION=1.8.12 NOTE="what changed"
	@go run ./cmd/mtc-bump --chart "$(CHART)" --version "$(VERSION)" --note "$(NOTE)"

.PHONY: test
test: tools build charts ## run every unit, chart and integration test (the CI command)
	@go build -o $(BIN)/testdigest ./ci/testdigest
	set -o pipefail; go test -json -timeout $(TEST_TIMEOUT) -count=1 ./internal/lifecycle ./... | $(BIN)/testdigest

.PHONY: test-short
test-short: ## unit tests only (no control plane)
	go test -short ./...

.PHONY: demo
demo: tools build charts ## the main job on a fresh local OpenShift 4.17 cluster
	@go run ./cmd/demo

.PHONY: cluster
cluster: tools build charts ## start a local cluster in the foreground: FLAVOUR=ocp4|ocp3|kubernetes VERSION=4.17 NETWORK=OVNKubernetes
	@go run ./cmd/localcluster --flavour "$(FLAVOUR)$(if $(filter ocp4,$(FLAVOUR)),:$(VERSION):$(NETWORK))"

.PHONY: bench
bench: tools build charts ## run the benchmarks
	go test -run '^$$' -bench . -benchtime 3x ./...

.PHONY: lint
lint: ## gofmt and go vet
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt would change the files above: run gofmt -w"; exit 1; }
	go vet ./...

.PHONY: clean
clean: ## remove what is built (bin/ and vendored charts); caches stay
	rm -rf bin charts/*/charts
