#!/usr/bin/env bash
# bench-template.sh: how long `helm template` takes with 100, 250 and 500 namespaces of NetworkPolicies
# and egress policies, per chart, and how the time grows with the namespace count (go test -bench under
# the hood; each render is a whole helm process, as a user runs it).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
count=${BENCH_COUNT:-5}
out=$(go test ./internal/charttest -run '^$' -bench 'BenchmarkTemplateNamespaces' -benchtime "${count}x" -count 1)
echo "$out" | grep -E '^(goos|goarch|cpu):' || true
echo "$out" | awk '
  /^BenchmarkTemplateNamespaces\// {
    split($1, parts, "/"); chart = parts[2]; sub(/^namespaces=/, "", parts[3]); sub(/-[0-9]+$/, "", parts[3]); n = parts[3]
    ms = $3 / 1e6; kib = $5
    if (!(chart in base)) { base[chart] = ms; basen[chart] = n }
    printf "%-8s %4d namespaces  %8.1f ms  %8.0f KiB  x%.2f time for x%.1f namespaces  %.2f ms/namespace\n", chart, n, ms, kib, ms / base[chart], n / basen[chart], ms / n
  }'
