#!/bin/bash
# make demo: a live IKEv2 tunnel, strongSwan "phone" -> ikev2d -> LAN host, in network
# namespaces, with the kernel doing ESP; then everything is torn down.
#
# `make demo` runs scripts/setup.sh first; this script installs nothing. When this machine's
# kernel has no ESP, the demo runs inside Debian's user-mode-linux kernel
# (tests/espvm/run-in-esp-kernel). DEMO_NAT=1 puts the phone behind a NAT box (ESP-in-UDP).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
export PYTHONDONTWRITEBYTECODE=1

if [ ! -x "$PY" ]; then
  echo "demo: $PY missing: run make setup (or make demo) first" >&2
  exit 1
fi
if [ "$(id -u)" != 0 ]; then
  echo "demo: needs root (network namespaces, XFRM): run it as root" >&2
  exit 1
fi

echo "==> ikev2d demo: strongSwan phone -> ikev2d (router) -> LAN host, kernel ESP"
echo "==> starting a kernel with ESP (user-mode-linux unless this kernel has ESP)"
rc=0
tests/espvm/run-in-esp-kernel "$PY" scripts/demo.py || rc=$?
if [ "$rc" = 125 ]; then
  echo "demo: the ESP kernel itself failed (see above)" >&2
fi
exit "$rc"
