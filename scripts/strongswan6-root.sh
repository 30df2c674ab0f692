#!/bin/bash
# strongswan6-root.sh - a cached Debian root with strongSwan 6 in it, for the interop tests
# against a second strongSwan version with ML-KEM (RFC 9370 additional key exchanges). Prints
# the root's path on stdout.
#
# Why "forky" (Debian 14, testing) and not Debian 13: trixie's strongSwan 6.0.1 parses
# ke1_mlkem768 but cannot run it. Its openssl plugin implements ML-KEM only with AWS-LC
# (OpenSSL 3.5 support came in 6.0.2, strongSwan commit b914333ab4) and Debian builds no `ml`
# plugin: charon answers "negotiated key exchange method ML_KEM_768 not supported". forky has
# strongSwan 6.1 with OpenSSL 3.5.
#
# The root is built once per content key (this script: suite, packages, options) with
# debootstrap from the Debian mirror apt already uses, in a temporary directory next to the
# cache, and renamed into place when complete: a run that starts while another builds waits
# for it (flock), and nobody ever sees a half-built root. Nothing in it runs as a service
# (usr/sbin/policy-rc.d exits 101). About 2 minutes and ~300 MB the first time.
#
# Environment: IKEV2D_CACHE (default /var/tmp/ikev2d-cache), DEBIAN_MIRROR (default: the
# first deb.debian.org-style URI of /etc/apt/sources.list*).
set -euo pipefail

SUITE=forky
PACKAGES=(
  strongswan-charon strongswan-swanctl libstrongswan-standard-plugins
  libstrongswan-extra-plugins libcharon-extra-plugins libcharon-extauth-plugins
)
CACHE=${IKEV2D_CACHE:-/var/tmp/ikev2d-cache}

say() { printf 'strongswan6-root: %s\n' "$*" >&2; }

# The Debian archive apt is configured with (deb822 .sources or one-line .list).
debian_mirror() {
  local uri
  uri=$(grep -hsE '^(URIs:|deb )' /etc/apt/sources.list /etc/apt/sources.list.d/*.sources \
          /etc/apt/sources.list.d/*.list 2>/dev/null |
        grep -oE 'https?://[^ ]+/debian/?( |$)' | grep -v security | head -1 | tr -d ' ')
  echo "${uri:-http://deb.debian.org/debian}"
}

KEY=$( { cat "$0"; printf '%s\n' "$SUITE" "${PACKAGES[@]}"; } | sha256sum | cut -c1-16)
ROOT=$CACHE/debian-$SUITE-strongswan-$KEY
if [ -x "$ROOT/usr/lib/ipsec/charon" ]; then
  echo "$ROOT"
  exit 0
fi
[ "$(id -u)" = 0 ] || { say "needs root (debootstrap, chroot)"; exit 1; }
command -v debootstrap >/dev/null || { say "debootstrap missing (scripts/setup.sh installs it)"; exit 1; }
mkdir -p "$CACHE"

exec 9>"$CACHE/.strongswan6-root.lock"
flock -w 900 9 || { say "another build holds $CACHE/.strongswan6-root.lock"; exit 1; }
if [ -x "$ROOT/usr/lib/ipsec/charon" ]; then  # built by the run we waited for
  echo "$ROOT"
  exit 0
fi

MIRROR=${DEBIAN_MIRROR:-$(debian_mirror)}
TMP=$(mktemp -d "$CACHE/.build-$SUITE.XXXXXX")
cleanup() {
  local m
  for m in dev/pts dev proc; do umount -l "$TMP/$m" 2>/dev/null || true; done
  rm -rf --one-file-system "$TMP"
}
trap cleanup EXIT
say "debootstrap $SUITE from $MIRROR (once per key $KEY)"
# debootstrap releases before forky have no script of that name: testing's is sid's
debootstrap --variant=minbase "$SUITE" "$TMP" "$MIRROR" /usr/share/debootstrap/scripts/sid \
    >"$TMP.log" 2>&1 ||
  { tail -n 30 "$TMP.log" >&2; rm -f "$TMP.log"; exit 1; }
rm -f "$TMP.log"
printf '#!/bin/sh\nexit 101\n' > "$TMP/usr/sbin/policy-rc.d"
mkdir -p "$TMP/ikev2d"  # where tests bind an instance's directory (testbed/strongswan.py)
chmod 755 "$TMP/usr/sbin/policy-rc.d"
mount -t proc proc "$TMP/proc"
say "installing ${PACKAGES[*]}"
if ! chroot "$TMP" env DEBIAN_FRONTEND=noninteractive sh -c \
    "apt-get -o Acquire::Check-Valid-Until=false update -qq &&
     apt-get install -y -qq --no-install-recommends ${PACKAGES[*]} && apt-get clean" \
    >"$CACHE/.strongswan6-install.log" 2>&1; then
  tail -n 30 "$CACHE/.strongswan6-install.log" >&2
  exit 1
fi
umount -l "$TMP/proc"
rm -rf "$TMP/var/lib/apt/lists"/* "$TMP/var/cache/apt"/*.bin
[ -x "$TMP/usr/lib/ipsec/charon" ] || { say "no charon in the new root"; exit 1; }
say "$(chroot "$TMP" /usr/sbin/swanctl --version 2>&1 | grep -m1 strongSwan || true)"
mv "$TMP" "$ROOT"
trap - EXIT
echo "$ROOT"
