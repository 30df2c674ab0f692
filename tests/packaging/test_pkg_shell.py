"""Every shell script the packages ship passes `sh -n` (dash, like busybox ash a POSIX
shell) and shellcheck, including the maintainer scripts as they sit in control.tar.gz."""

from __future__ import annotations

import subprocess

import pytest

SHELL_FILES = [
    "/etc/init.d/ikev2d",
    "/etc/uci-defaults/90-ikev2d-dnsmasq",
    "/usr/libexec/rpcd/ikev2d",
    "/usr/sbin/ikev2d",
    "/usr/sbin/ikev2ctl",
]


def _shell_scripts(built, tmp_path):
    paths = []
    for ipk in built.values():
        for name, (_, data) in ipk.control.items():
            if data is not None and data.startswith(b"#!/bin/sh"):
                path = tmp_path / f"{ipk.fields['Package']}.{name[2:]}"
                path.write_bytes(data)
                paths.append(path)
    for name in SHELL_FILES:
        path = tmp_path / name.strip("/").replace("/", "_")
        path.write_bytes(built["ikev2d"].file(name))
        paths.append(path)
    return paths


def test_shipped_scripts_are_shell(built):
    for name in SHELL_FILES:
        assert built["ikev2d"].file(name).startswith(b"#!/bin/sh"), name


@pytest.mark.parametrize("shell", ["dash", "busybox"])
def test_sh_n(built, tmp_path, shell):
    for path in _shell_scripts(built, tmp_path):
        argv = ["busybox", "sh", "-n", str(path)] if shell == "busybox" else ["dash", "-n", path]
        proc = subprocess.run(argv, capture_output=True, text=True, check=False)
        assert proc.returncode == 0, (path.name, proc.stderr)


def test_shellcheck(built, tmp_path):
    paths = _shell_scripts(built, tmp_path)
    # maintainer scripts are plain sh; the OpenWrt wrappers use ${IPKG_INSTROOT} unquoted
    # exactly as include/package-pack.mk writes them, so SC2086/SC2068 are theirs, not ours.
    proc = subprocess.run(
        ["shellcheck", "--shell=dash", "-e", "SC2086,SC2068,SC1091", *map(str, paths)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout
    own = [p for p in paths if not p.name.endswith((".postinst", ".prerm"))]
    proc = subprocess.run(
        ["shellcheck", "--shell=dash", *map(str, own)], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stdout
