#!/usr/bin/env bash
# Refuses, in one sentence, a machine without Go 1.26 or newer (pure bash: nothing else needed).
set -u
if ! command -v go >/dev/null 2>&1; then
  echo "Go is not installed or not on PATH: install Go 1.26 or newer from https://go.dev/dl/." >&2; exit 1
fi
v=$(go env GOVERSION 2>/dev/null)
v=${v#go}
major=${v%%.*}; rest=${v#*.}; minor=${rest%%.*}
if ! [[ $major =~ ^[0-9]+$ && $minor =~ ^[0-9]+$ ]] || (( major < 1 || (major == 1 && minor < 26) )); then
  echo "Go ${v:-of unknown version} is too old: this project needs Go 1.26 or newer." >&2; exit 1
fi
