#!/bin/bash
# Runs shellcheck over every shell script we ship or run.
set -euo pipefail
cd "$(dirname "$0")/.."
mapfile -t scripts < <(
  { git ls-files -- '*.sh' '.ci/run'
    git ls-files -- files package luci-app | while read -r f; do
      head -c 64 "$f" 2>/dev/null | grep -qE '^#!(/bin/sh|/bin/bash|/usr/bin/env (ba)?sh)' && echo "$f"
    done; } | sort -u)
[ ${#scripts[@]} -eq 0 ] && exit 0
shellcheck -x "${scripts[@]}"
echo "shellcheck: ${#scripts[@]} scripts clean"
