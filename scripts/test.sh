#!/bin/bash
# Every test tier. Unit and interop tests run on this machine; system tests need a
# kernel with ESP, so they run inside user-mode-linux unless this kernel has ESP.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
export PYTHONDONTWRITEBYTECODE=1

echo "==> unit, interop, packaging and LuCI view tests"
$PY -m pytest tests/unit tests/interop tests/packaging tests/luci "$@"

if compgen -G 'tests/system/test_*.py' >/dev/null; then
  echo "==> system tests (kernel ESP)"
  tests/espvm/run-in-esp-kernel "$PY" -m pytest tests/system "$@"
fi
