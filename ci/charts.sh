#!/usr/bin/env bash
# charts.sh: the chart steps of the build. The Makefile calls it; it can also run by hand.
#   ci/charts.sh deps     vendor charts/mtc-lib into each chart (helm dependency build)
#   ci/charts.sh values   make each chart's values.yaml and values.schema.json from charts/shared and its values.line.* files
#   ci/charts.sh lint     helm lint --strict with Helm 3 and Helm 4, defaults and every values/ file meant for the chart
#   ci/charts.sh golden   rewrite the golden renders (go test -update)
#   ci/charts.sh docs     rewrite the values reference in each chart's README
#   ci/charts.sh docs-check  fail when a README's values reference is out of date
#   ci/charts.sh bench    time helm template with 100, 250 and 500 namespaces of policies
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
charts=(charts/mtc-1.8 charts/mtc-1.7)

need() {
  if [[ ! -x bin/$1 ]]; then
    echo "bin/$1 is missing; run \`make tools\` to build the pinned Helm CLIs into bin/" >&2
    exit 1
  fi
}

deps() {
  need helm
  for c in "${charts[@]}"; do
    rm -f "$c/Chart.lock"
    bin/helm dependency build "$c" >/dev/null
  done
}

# values files meant for a chart: those whose "# charts:" header names it
values_for() {
  local name=$1 f
  for f in values/*.yaml; do
    if grep -qE "^# charts:.*\\b${name}\\b" "$f"; then echo "$f"; fi
  done
}

lint() {
  deps
  need helm4
  local cli c f
  for cli in helm helm4; do
    for c in "${charts[@]}"; do
      bin/$cli lint --strict --quiet "$c" --namespace openshift-migration
      for f in $(values_for "$(basename "$c")"); do
        bin/$cli lint --strict --quiet "$c" --namespace openshift-migration -f "$f" \
          --set egressPolicies.networkType=OpenShiftSDN >/dev/null || {
          echo "$cli lint --strict $c -f $f failed" >&2; bin/$cli lint --strict "$c" --namespace openshift-migration -f "$f" --set egressPolicies.networkType=OpenShiftSDN >&2; exit 1; }
      done
    done
    echo "$cli lint --strict: ${charts[*]} clean"
  done
}

case "${1:-}" in
  deps) deps ;;
  lint) lint ;;
  values) go test ./internal/chartgen -run 'TestChartsMatchTheSharedSource' -count=1 -update ;;
  golden) deps; go test ./internal/charttest -run 'TestGolden' -count=1 -update ;;
  docs) go run ./ci/chart-docs "${charts[@]}" ;;
  docs-check) go run ./ci/chart-docs -check "${charts[@]}" ;;
  bench) deps; exec "$root/ci/bench-template.sh" ;;
  *) echo "usage: ci/charts.sh deps|values|lint|golden|docs|docs-check|bench" >&2; exit 2 ;;
esac
