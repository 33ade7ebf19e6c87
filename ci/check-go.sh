#!/usr/bin/env bash
# Refuses, in one sentence, a machine without Go 1.26 or newer.
set -u
if ! command -v go >/dev/null 2>&1; then
  echo "Go is not installed or not on PATH: install Go 1.26 or newer from https://go.dev/dl/." >&2; exit 1
fi
v=$(go env GOVERSION 2>/dev/null | sed 's/^go//')
major=${v%%.*}; rest=${v#*.}; minor=${rest%%.*}
if [ -z "$major" ] || [ "$major" -lt 1 ] || { [ "$major" -eq 1 ] && [ "${minor:-0}" -lt 26 ]; }; then
  echo "Go $v is too old: this project needs Go 1.26 or newer." >&2; exit 1
fi
