"""Both .apk (OpenWrt 25.12) built by `make apk` with the pinned apk-tools' `apk mkpkg` as
include/package-pack.mk does, then installed, audited, upgraded and removed by that apk."""

from __future__ import annotations

import hashlib
import re
import subprocess

import pytest

from testbed import wait_until
from testbed.openwrt_pkg import apk, put_packages
from testbed.openwrt_service import (
    CONFIG,
    daemon_pid,
    enable,
    ikev2d_rules,
    install_apk,
    rpcd_call,
    wait_rules,
    wait_serving,
    wait_stopped,
)
from testbed.paths import PROJECT, script

SCRIPTS = {"post-install", "post-upgrade", "pre-deinstall", "post-deinstall"}


def _dump(tree, path) -> str:
    """`apk adbdump` of a package: its info, scripts and file list as YAML-like text."""
    env = {"LD_LIBRARY_PATH": str(tree / "usr/lib"), "PATH": "/usr/bin:/bin"}
    argv = [str(tree / "usr/bin/apk"), "adbdump", str(path)]
    return subprocess.run(argv, capture_output=True, text=True, env=env, check=True).stdout


def _info(dump: str, key: str) -> str:
    match = re.search(rf"^  {key}: (.*)$", dump, re.M)
    return match.group(1) if match else ""


def test_make_apk_builds_both_packages_named_as_openwrt_does(packages):
    version = re.search(
        r'^__version__ = "(.+)"', (PROJECT / "src/ikev2d/__init__.py").read_text(), re.M
    )
    for name, path in packages.apk.items():
        assert path.name == f"{name}-{version.group(1)}-r1.apk"
    assert set(packages.apk) == {"ikev2d", "luci-app-ikev2d"}
    assert "apk:" in (PROJECT / "Makefile").read_text()  # `make apk` runs scripts/build_apk.py


@pytest.mark.parametrize("name", ["ikev2d", "luci-app-ikev2d"])
def test_package_metadata_as_package_pack_mk_writes_it(tree, packages, name):
    dump = _dump(tree, packages.apk[name])
    assert _info(dump, "name") == name
    assert _info(dump, "arch") == "noarch"
    description = re.search(r"^  description: \|\n    (.*)$", dump, re.M)
    description = description.group(1) if description else _info(dump, "description")
    assert description and len(description.encode()) <= script("build_apk").MAX_DESCRIPTION
    depends = re.findall(r"^    - (\S+)$", dump.split("depends:", 1)[1].split("paths:")[0], re.M)
    assert depends and not any("(" in d or ")" in d or "," in d for d in depends)
    expected = SCRIPTS if name == "ikev2d" else SCRIPTS - {"post-deinstall"}
    scripts = set(
        re.findall(r"^  (post-install|post-upgrade|pre-deinstall|post-deinstall):", dump, re.M)
    )
    assert scripts == expected


def test_conffiles_and_their_checksums_travel_in_the_package(tree, packages, tmp_path):
    root = tmp_path / "extracted"
    root.mkdir()
    env = {"LD_LIBRARY_PATH": str(tree / "usr/lib"), "PATH": "/usr/bin:/bin"}
    subprocess.run(
        [str(tree / "usr/bin/apk"), "extract", "--allow-untrusted", "--destination", str(root),
         str(packages.apk["ikev2d"])],
        check=True, env=env, capture_output=True,
    )  # fmt: skip
    meta = root / "lib/apk/packages"
    conffiles = (meta / "ikev2d.conffiles").read_text().split()
    assert CONFIG in conffiles
    for line in (meta / "ikev2d.conffiles_static").read_text().splitlines():
        path, digest = line.split()
        assert hashlib.sha256((root / path.lstrip("/")).read_bytes()).hexdigest() == digest
    listed = set((meta / "ikev2d.list").read_text().split())
    assert "/usr/sbin/ikev2d" in listed and "/etc/init.d/ikev2d" in listed


def _audit_of_ours(router) -> list[str]:
    """`apk audit` lines about the packages' own files (it also reports every file of the
    host's /etc in this namespace, which no package owns)."""
    owned = set()
    for name in ("ikev2d", "luci-app-ikev2d"):
        owned |= {p.lstrip("/") for p in router.read(f"/lib/apk/packages/{name}.list").split()}
    out = apk(router, "audit").stdout.splitlines()
    return [line for line in out if line.split(" ", 1)[-1] in owned]


def test_install_audit_upgrade_remove(router, packages, next_release):
    install_apk(router, packages)
    assert router.exists("/etc/rc.d/S90ikev2d")  # post-install: default_postinst enabled it
    router.wait_object("ikev2d")
    assert rpcd_call(router, "ikev2d", "status")["running"] is False
    assert _audit_of_ours(router) == []

    pid = enable(router)
    wait_rules(router, 7)
    assert _audit_of_ours(router) == [f"U {CONFIG.lstrip('/')}", "U etc/config/ikev2d_secrets"]
    config = router.read(CONFIG)

    paths = put_packages(router, [next_release.apk["ikev2d"], next_release.apk["luci-app-ikev2d"]])
    out = apk(router, "add", *paths).stdout
    assert "Upgrading ikev2d (0.1.0-r1 -> 0.1.0-r2)" in out
    assert router.read(CONFIG) == config  # the owner's file stays; the new default beside it
    assert router.exists(f"{CONFIG}.apk-new")
    new_pid = wait_serving(router, old_pid=pid)  # restarted: the new code runs
    assert new_pid != pid
    wait_rules(router, 7)

    apk(router, "del", "luci-app-ikev2d", "ikev2d")
    wait_stopped(router)
    wait_rules(router, 0)
    assert daemon_pid(router) == 0 and ikev2d_rules(router) == []
    wait_until(lambda: not router.run(["ubus", "list", "ikev2d"], check=False).stdout, 20)
    for gone in ("/usr/lib/ikev2d", "/usr/sbin/ikev2d", "/etc/init.d/ikev2d", "/etc/rc.d/S90ikev2d",
                 "/usr/libexec/rpcd/ikev2d", "/www/luci-static/resources/view/ikev2d",
                 "/var/run/ikev2d"):  # fmt: skip
        assert not router.exists(gone), gone
    assert router.read(CONFIG) == config  # edited: kept
