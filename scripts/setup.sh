#!/bin/bash
# One-time (and idempotent) setup: system packages the tests use, the main venv
# (newest Python + newest cryptography/pyroute2) and, with --oldest, the venv that
# pins the oldest supported set (Python 3.11, cryptography 41.0.7, pyroute2 0.7.9).
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '==> %s\n' "$*"; }

SYSTEM_PACKAGES=(
  # strongSwan, the real IKEv2 peer of the interop tests and the benchmark baseline
  strongswan-swanctl charon-systemd strongswan-charon charon-cmd strongswan-pki
  libcharon-extra-plugins libcharon-extauth-plugins libstrongswan-extra-plugins
  libstrongswan-standard-plugins
  # strongSwan 6 (ML-KEM) as a second peer: a Debian root made by scripts/strongswan6-root.sh
  debootstrap
  # a kernel with ESP for the system tests, and what boots it; qemu boots Debian's
  # linux-image-amd64 (fetched on first use by tests/espvm/run-in-esp-kernel) for the tests
  # that need ESP and fw4's nftables in one kernel
  user-mode-linux busybox-static qemu-system-x86
  # the browser of the real-LuCI tests (driven by playwright-core from npm, tests/browser)
  chromium
  # network namespaces, NAT boxes, traffic and captures
  iproute2 nftables iptables iputils-ping tcpdump tshark iperf3 procps psmisc
  # lint of shell scripts shipped to the router; decoding our QR codes back
  shellcheck zbar-tools
  # OpenWrt's userland built from source for tests/router (scripts/openwrt-userland.sh);
  # git clones the pinned sources when ../shared/openwrt-src is absent; openssl for rpcd logins
  build-essential cmake pkg-config libjson-c-dev libssl-dev zlib1g-dev meson ninja-build git
  openssl
  # dnsmasq run by OpenWrt's own init script in tests/router (DNS for the VPN pool)
  dnsmasq-base
)

install_system_packages() {
  local missing=() p
  for p in "${SYSTEM_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  if [ ${#missing[@]} -eq 0 ]; then
    say "system packages: all present"
    return
  fi
  if [ "$(id -u)" != 0 ]; then
    echo "setup: missing system packages: ${missing[*]} (run as root, or install them)" >&2
    exit 1
  fi
  say "system packages: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# The first interpreter found among the candidates.
find_python() {
  local c
  for c in "$@"; do
    if command -v "$c" >/dev/null 2>&1 && "$c" -c 'import sys' >/dev/null 2>&1; then
      command -v "$c"; return
    fi
    [ -x "$c" ] && { echo "$c"; return; }
  done
  return 1
}

# make_venv DIR PYTHON STAMP-INPUT PIP-ARGS...: (re)creates DIR only when inputs changed.
make_venv() {
  local dir=$1 py=$2 stamp_input=$3; shift 3
  local stamp; stamp=$( { echo "$py"; "$py" -V; cat pyproject.toml testbed/pyproject.toml ${stamp_input:+"$stamp_input"}; } | sha256sum | cut -c1-16)
  if [ -f "$dir/.stamp" ] && [ "$(cat "$dir/.stamp")" = "$stamp" ]; then
    say "$dir: up to date ($("$dir/bin/python" -V))"
    return
  fi
  say "$dir: creating with $py"
  rm -rf "$dir"
  "$py" -m venv "$dir"
  local log="$dir/pip.log"
  if ! { "$dir/bin/python" -m pip install --disable-pip-version-check --upgrade pip &&
         "$dir/bin/python" -m pip install --disable-pip-version-check "$@"; } >"$log" 2>&1; then
    tail -n 30 "$log" >&2
    echo "setup: pip install into $dir failed (full log: $log)" >&2
    rm -f "$dir/.stamp"
    exit 1
  fi
  echo "$stamp" > "$dir/.stamp"
}

install_system_packages

# The LuCI view tests run in Node.js; the image may bring its own, else Debian's.
if ! command -v node >/dev/null 2>&1; then
  say "node: installing Debian's nodejs"
  apt-get install -y -qq --no-install-recommends nodejs >/dev/null
fi
if ! command -v npm >/dev/null 2>&1; then
  say "npm: installing Debian's npm"
  apt-get install -y -qq --no-install-recommends npm >/dev/null
fi

# The browser tests' node packages, exactly as locked (playwright-core, which downloads no
# browser: Debian's chromium is used); reinstalled only when the lock file changes.
install_node_packages() {
  local dir=tests/browser stamp
  stamp=$( { node --version; cat "$dir/package-lock.json"; } | sha256sum | cut -c1-16)
  if [ -f "$dir/node_modules/.stamp" ] && [ "$(cat "$dir/node_modules/.stamp")" = "$stamp" ]; then
    say "$dir/node_modules: up to date"
    return
  fi
  say "$dir/node_modules: npm ci"
  (cd "$dir" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >/dev/null)
  echo "$stamp" > "$dir/node_modules/.stamp"
}
install_node_packages

PY_NEW=$(find_python python3.13 /root/.pyenv/versions/3.13.0/bin/python3.13 python3) \
  || { echo "setup: no python3 found" >&2; exit 1; }
# the package and, for tests, bench and demo, the test bed (testbed/, never shipped)
make_venv .venv "$PY_NEW" "" -e '.[dev]' -e ./testbed

if [ "${1:-}" = "--oldest" ]; then
  PY_OLD=$(find_python python3.11 /root/.pyenv/versions/3.11.7/bin/python3.11) \
    || { echo "setup: Python 3.11 is needed for the oldest-set venv" >&2; exit 1; }
  make_venv .venv-oldest "$PY_OLD" constraints-oldest.txt -c constraints-oldest.txt -e '.[dev]' \
    -e ./testbed
fi
