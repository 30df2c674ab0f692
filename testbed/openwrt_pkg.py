"""Installing packages into a RouterNamespace with OpenWrt's real package managers.

opkg (24.10) and apk (25.12) come from the userland tree; both run inside the namespace, live
(``/`` of the router) or offline on an image root, the way OpenWrt's image builder does
(include/rootfs.mk). Dependencies that are not part of the test (python3-*, kmod-*, luci-base)
are declared installed, with the versions OpenWrt would have: opkg gets status stanzas, apk a
stand-in package that provides them.

    opkg_setup(router)                              # /etc/opkg.conf, deps declared installed
    opkg(router, "install", "/tmp/pkgs/x.ipk")      # any opkg command, live
    build_image_opkg(router, "/image", [ipk, ...])  # offline root, maintainer scripts as rootfs.mk
    apk_setup(router, depends)                      # /lib/apk/db with a stand-in for the deps
    apk(router, "add", "--allow-untrusted", "/tmp/pkgs/x.apk")
    put_packages(router, [Path, ...]) -> ["/tmp/pkgs/name", ...]   # copies host files inside
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterable, Sequence
from pathlib import Path

from .routerns import RouterNamespace

__all__ = [
    "apk",
    "apk_setup",
    "build_image_opkg",
    "opkg",
    "opkg_setup",
    "put_packages",
]

# what the 24.10 image builder passes on opkg's command line, as a file
OPKG_CONF = (
    "dest root /\nlists_dir ext /var/opkg-lists\narch all 100\narch noarch 100\narch x86_64 200\n"
)
PKG_DIR = "/tmp/pkgs"


def put_packages(router: RouterNamespace, paths: Iterable[Path]) -> list[str]:
    """Copy package files from the host into the router's /tmp/pkgs; their paths inside."""
    inside = []
    for path in paths:
        target = router.host(f"{PKG_DIR}/{path.name}")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
        inside.append(f"{PKG_DIR}/{path.name}")
    return inside


def _status_stanzas(names: Iterable[str]) -> str:
    return "".join(
        f"Package: {name}\nVersion: 1.0-r1\nStatus: install user installed\nArchitecture: all\n\n"
        for name in names
    )


def opkg_setup(router: RouterNamespace, provided: Sequence[str], root: str = "") -> None:
    """opkg.conf for root ('' = live), and `provided` declared installed there (opkg refuses
    unknown dependencies even with --force-depends)."""
    router.write(f"{root}/etc/opkg.conf", OPKG_CONF)
    router.write(f"{root}/usr/lib/opkg/status", _status_stanzas(provided))
    for name in provided:
        router.write(f"{root}/usr/lib/opkg/info/{name}.list", "")
        router.write(f"{root}/usr/lib/opkg/info/{name}.control", f"Package: {name}\n")
    for folder in ("var/lock", "tmp"):
        router.host(f"{root}/{folder}").mkdir(parents=True, exist_ok=True)


def opkg(router: RouterNamespace, *args: str, check: bool = True, timeout: float = 120.0):
    """`opkg ARGS` on the live router (maintainer scripts run, services start)."""
    return router.run(["opkg", *args], check=check, timeout=timeout)


def build_image_opkg(router: RouterNamespace, root: str, ipks: Sequence[str]) -> None:
    """Install into an offline image root as the 24.10 image builder does (rootfs.mk): opkg
    with IPKG_NO_SCRIPT, then each postinst with IPKG_INSTROOT, then every procd init script
    enabled through rc.common. Services start and uci-defaults run at the image's first boot."""
    router.host(f"{root}/etc/rc.d").mkdir(parents=True, exist_ok=True)
    env = {"IPKG_NO_SCRIPT": "1", "IPKG_INSTROOT": root, "TMPDIR": f"{root}/tmp"}
    router.run(
        ["opkg", "--offline-root", root, "--conf", f"{root}/etc/opkg.conf",
         "--force-postinstall", "install", *ipks],
        env=env, timeout=120,
    )  # fmt: skip
    script = r"""
set -e
cd "$IPKG_INSTROOT"
for script in ./usr/lib/opkg/info/*.postinst; do
    [ -e "$script" ] || continue
    /bin/sh "$script"
done
for script in ./etc/init.d/*; do
    grep -q '#!/bin/sh /etc/rc.common' "$script" || continue
    /bin/sh ./etc/rc.common "$script" enable
done
rm -f ./usr/lib/opkg/info/*.postinst* ./var/lock/*.lock
"""
    router.run(["/bin/sh", "-c", script], env={"IPKG_INSTROOT": root})


def apk_setup(router: RouterNamespace, provided: Sequence[str], root: str = "/") -> None:
    """An apk database in root with a stand-in package that provides `provided`."""
    provides = " ".join(f"{name}=1.0-r1" for name in provided)
    stand_in = "/tmp/apk-stand-in"
    router.host(f"{stand_in}/files").mkdir(parents=True, exist_ok=True)
    router.run([
        "apk", "mkpkg", "--info", "name:openwrt-stand-ins", "--info", "version:1.0-r1",
        "--info", "arch:noarch", "--info", f"provides:{provides}",
        "--info", "description:what the tests do not run (python3, kernel modules, LuCI)",
        "--files", f"{stand_in}/files", "--output", f"{stand_in}/stand-ins.apk",
    ])  # fmt: skip
    apk(router, "add", "--initdb", f"{stand_in}/stand-ins.apk", root=root)


def apk(
    router: RouterNamespace, *args: str, root: str = "/", check: bool = True, timeout: float = 120.0
) -> subprocess.CompletedProcess[str]:
    """`apk ARGS` offline, untrusted local files, maintainer scripts run (as on 25.12 with
    `apk add --allow-untrusted /tmp/x.apk`)."""
    argv = [
        "apk", "--root", root, "--allow-untrusted", "--no-network", "--no-cache",
        "--no-logfile", "--preserve-env", *(["--force-no-chroot"] if root != "/" else []), *args,
    ]  # fmt: skip
    env = {"IPKG_INSTROOT": "" if root == "/" else root}
    return router.run(argv, check=check, timeout=timeout, env=env)
