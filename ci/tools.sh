#!/usr/bin/env bash
# Builds what the local control plane and the tests run into bin/. Called by `make tools`; each
# step runs only when its output is missing or older than its inputs (make decides).
#   ci/tools.sh kube    etcd, kube-apiserver, kube-controller-manager, kubectl (k8s.io/kubernetes v1.37.2)
#   ci/tools.sh helm3   bin/helm  (helm.sh/helm/v3)
#   ci/tools.sh helm4   bin/helm4 (helm.sh/helm/v4)
#   ci/tools.sh k111    bin/k8s-1.11/{kube-apiserver,kube-controller-manager} (OpenShift 3.11's Kubernetes)
#   ci/tools.sh crds    bin/crds: the OpenShift CRD manifests (openshift/api), OLM's own CRDs (tools/olm) and
#                       OpenShift Data Foundation's NooBaa CRD (noobaa-operator, $NOOBAA_VERSION below) and
#                       Velero's CRDs (velero, $VELERO_VERSION below)
#   ci/tools.sh olm     bin/olm, bin/catalog (OLM) and bin/opm (operator-registry), from tools/olm
#   ci/tools.sh storage bin/versitygw (S3) and bin/fake-gcs-server (GCS), from tools/storage
#   ci/tools.sh azurite bin/azurite: Azurite (Azure Blob) from npm, as tools/azurite's lockfile pins it
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin=$root/bin
mkdir -p "$bin"
log() { echo "[tools $(date +%T)] $*" >&2; }
# The NooBaa CRD of OpenShift Data Foundation, for the lab's Multicloud Object Gateway; the module is
# only downloaded (its packages are not built), so its version is pinned here rather than in a go.mod.
NOOBAA_VERSION=v5.18.0
# Velero's CRDs, as the OADP lines that carry Velero 1.14 (OADP 1.4, MTC 1.8's default) install them;
# downloaded only, like NooBaa's.
VELERO_VERSION=v1.14.1

modver() { # the version tools/go.mod selects for a module
  (cd "$root/tools" && go list -m -f '{{.Version}}' "$1")
}

case "${1:-}" in
kube)
  v=$(modver k8s.io/kubernetes)
  minor=$(echo "$v" | cut -d. -f2)
  ld=""
  for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ld="$ld -X $p.gitVersion=$v -X $p.gitMajor=1 -X $p.gitMinor=$minor -X $p.gitTreeState=clean -X $p.buildDate=1970-01-01T00:00:00Z"
  done
  log "building kube-apiserver, kube-controller-manager, kubectl $v and etcd (about 8 minutes cold on 2 cores)"
  cd "$root/tools"
  go build -ldflags "$ld" -o "$bin/" k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager k8s.io/kubernetes/cmd/kubectl ./cmd/etcd
  ;;
helm3|helm4)
  major=${1#helm}
  out=$bin/helm; [ "$major" = 4 ] && out=$bin/helm4
  v=$(modver helm.sh/helm/v$major)
  log "building Helm $v into $out"
  cd "$root/tools"
  go build -ldflags "-X helm.sh/helm/v$major/internal/version.version=$v" -o "$out" "helm.sh/helm/v$major/cmd/helm"
  ;;
k111)
  build=${K111_BUILD:-$root/../shared/k8s-1.11/build.sh}
  if [ ! -x "$build" ]; then
    echo "The Kubernetes 1.11 build script $build is missing: set K111_BUILD to its path." >&2; exit 1
  fi
  log "building the Kubernetes 1.11 control plane of the ocp3 flavour (about 6.5 minutes cold; caches in ${K111_DIR:-~/.cache/k8s-1.11})"
  K111_GIT_VERSION=v1.11.0+d4cacc0 K111_GIT_MINOR=11+ K111_OUT=$bin/k8s-1.11 "$build" build >&2
  ;;
crds)
  cd "$root/tools/crds"
  os=$(go mod download -json github.com/openshift/api | sed -n 's/.*"Dir": "\(.*\)",/\1/p')
  olm=$(cd "$root/tools/olm" && go mod download -json github.com/operator-framework/operator-lifecycle-manager | sed -n 's/.*"Dir": "\(.*\)",/\1/p')
  nb=$(go mod download -json "github.com/noobaa/noobaa-operator/v5@$NOOBAA_VERSION" | sed -n 's/.*"Dir": "\(.*\)",/\1/p')
  ve=$(go mod download -json "github.com/vmware-tanzu/velero@$VELERO_VERSION" | sed -n 's/.*"Dir": "\(.*\)",/\1/p')
  [ -d "$os" ] && [ -d "$olm" ] && [ -d "$nb" ] && [ -d "$ve" ] || { echo "The OpenShift API, OLM, NooBaa or Velero module could not be downloaded: check the Go module proxy." >&2; exit 1; }
  out=$bin/crds
  rm -rf "$out.tmp"; mkdir -p "$out.tmp/openshift" "$out.tmp/olm" "$out.tmp/odf" "$out.tmp/velero"
  cp "$ve"/config/crd/v1/bases/velero.io_*.yaml "$ve"/config/crd/v2alpha1/bases/velero.io_*.yaml "$out.tmp/velero/"
  cp "$nb/deploy/crds/noobaa.io_noobaas.yaml" "$out.tmp/odf/noobaas.yaml"
  cp "$os/config/v1/zz_generated.crd-manifests/0000_00_cluster-version-operator_01_clusterversions-Default.crd.yaml" "$out.tmp/openshift/clusterversions.yaml"
  cp "$os/config/v1/zz_generated.crd-manifests/0000_03_config-operator_01_proxies.crd.yaml" "$out.tmp/openshift/proxies.yaml"
  cp "$os/config/v1/zz_generated.crd-manifests/0000_10_config-operator_01_infrastructures-Default.crd.yaml" "$out.tmp/openshift/infrastructures.yaml"
  cp "$os/config/v1/zz_generated.crd-manifests/0000_10_config-operator_01_networks-Default.crd.yaml" "$out.tmp/openshift/networks.yaml"
  cp "$os/route/v1/zz_generated.crd-manifests/routes.crd.yaml" "$out.tmp/openshift/routes.yaml"
  cp "$os/security/v1/zz_generated.crd-manifests/0000_03_config-operator_01_securitycontextconstraints.crd.yaml" "$out.tmp/openshift/securitycontextconstraints.yaml"
  cp "$os/network/v1/zz_generated.crd-manifests/004_egressnetworkpolicies.crd.yaml" "$out.tmp/openshift/egressnetworkpolicies.yaml"
  # all eight CRDs OLM ships with itself, as its deployment installs them
  cp "$olm"/deploy/chart/crds/*.crd.yaml "$out.tmp/olm/"
  [ "$(ls "$out.tmp/olm" | wc -l)" = 8 ] || { echo "OLM's module no longer ships 8 CRDs under deploy/chart/crds: update ci/tools.sh." >&2; exit 1; }
  chmod -R u+w "$out.tmp"
  rm -rf "$out"; mv "$out.tmp" "$out"
  log "copied $(find "$out" -name '*.yaml' | wc -l) CRD manifests into $out"
  ;;
olm)
  cd "$root/tools/olm"
  v=$(go list -m -f '{{.Version}}' github.com/operator-framework/operator-lifecycle-manager)
  rv=$(go list -m -f '{{.Version}}' github.com/operator-framework/operator-registry)
  log "building OLM $v (olm, catalog) and opm $rv (about 10 minutes cold on 2 cores)"
  export CGO_ENABLED=0
  go build -trimpath -tags json1 -ldflags "-X github.com/operator-framework/operator-lifecycle-manager/pkg/version.OLMVersion=${v#v} -X github.com/operator-framework/operator-lifecycle-manager/pkg/version.GitCommit=$v" -o "$bin/" github.com/operator-framework/operator-lifecycle-manager/cmd/olm github.com/operator-framework/operator-lifecycle-manager/cmd/catalog
  go build -trimpath -tags json1,containers_image_openpgp -ldflags "-X github.com/operator-framework/operator-registry/cmd/opm/version.gitCommit=$rv -X github.com/operator-framework/operator-registry/cmd/opm/version.opmVersion=$rv" -o "$bin/opm" github.com/operator-framework/operator-registry/cmd/opm
  ;;
storage)
  cd "$root/tools/storage"
  log "building versitygw $(go list -m -f '{{.Version}}' github.com/versity/versitygw) and fake-gcs-server $(go list -m -f '{{.Version}}' github.com/fsouza/fake-gcs-server) (about 3 minutes cold on 2 cores)"
  CGO_ENABLED=0 go build -trimpath -o "$bin/" github.com/versity/versitygw/cmd/versitygw github.com/fsouza/fake-gcs-server
  ;;
azurite)
  command -v npm >/dev/null || { echo "npm is missing: install Node.js (20 or later) with npm to run the lab's Azure Blob endpoint." >&2; exit 1; }
  out=$bin/azurite
  rm -rf "$out.tmp"; mkdir -p "$out.tmp"
  cp "$root/tools/azurite/package.json" "$root/tools/azurite/package-lock.json" "$out.tmp/"
  log "installing Azurite $(sed -n 's/.*"azurite": "\(.*\)".*/\1/p' "$root/tools/azurite/package.json" | head -1) from npm into $out"
  (cd "$out.tmp" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >&2)
  rm -rf "$out"; mv "$out.tmp" "$out"
  touch "$out/node_modules/.bin/azurite-blob"
  ;;
*)
  echo "usage: ci/tools.sh kube|helm3|helm4|k111|crds|olm|storage|azurite" >&2; exit 2 ;;
esac
