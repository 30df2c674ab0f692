#!/bin/bash
# Every test tier. Unit and interop tests run on this machine; system tests need a
# kernel with ESP, so they run inside user-mode-linux unless this kernel has ESP; the
# whole-router tests need ESP and fw4's nftables in one kernel: Debian's, under qemu.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
export PYTHONDONTWRITEBYTECODE=1

echo "==> OpenWrt userland for the router tests (built once, cached)"
scripts/openwrt-userland.sh >/dev/null

echo "==> a Debian root with strongSwan 6 for the ML-KEM interop tests (built once, cached)"
IKEV2D_STRONGSWAN6_ROOT=$(scripts/strongswan6-root.sh)
export IKEV2D_STRONGSWAN6_ROOT  # the ESP kernel has no network: built here, used there

echo "==> unit, attack (issue 13), fuzz (short run), interop, packaging, LuCI view and router tests"
mkdir -p build/coverage
rm -f build/coverage/data*
$PY -m coverage run -m pytest tests/unit tests/attack tests/fuzz tests/interop tests/packaging \
  tests/luci tests/router "$@"

echo "==> line coverage of src/ikev2d per room (these tiers, in process); the core rooms' floor"
$PY scripts/coverage_floor.py

if compgen -G 'tests/system/test_*.py' >/dev/null; then
  echo "==> system tests (kernel ESP)"
  tests/espvm/run-in-esp-kernel "$PY" -m pytest tests/system "$@"
fi

echo "==> the whole router in one kernel (qemu): fw4 + ESP + procd, real LuCI in Chromium"
tests/wholerouter/run "$PY" -m pytest tests/wholerouter "$@"
