"""The installed tree works on its own: ikev2d.ipk's data unpacked under a staging root, run
through its launchers with the current interpreter (3.13 or 3.11 venv: the router's two
Pythons), with nothing from the source tree on the path."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from pkg_support import ROOT


def _env() -> dict[str, str]:
    return {"PATH": os.environ["PATH"], "IKEV2D_PYTHON": sys.executable, "LC_ALL": "C"}


def _run(staging: Path, launcher: str, *args: str) -> subprocess.CompletedProcess:
    assert (staging / "usr/lib/ikev2d/ikev2d/cli.pyc").is_file(), (
        "src/ikev2d/cli.py (daemon_main, ctl_main) does not exist yet: the launchers have "
        "no entry point"
    )
    return subprocess.run(
        [str(staging / "usr/sbin" / launcher), *args],
        capture_output=True,
        text=True,
        env=_env(),
        timeout=60,
        check=False,
    )


def test_every_installed_module_imports_from_the_staging_tree(staging):
    """Imports each module with -I (no PYTHONPATH, no user site), only the staging lib dir
    added: the stdlib, cryptography and pyroute2 (with their own extension modules:
    _cffi_backend, _openssl; pyroute2 loads multiprocessing, hence __mp_main__) must be all
    it needs, and every ikev2d
    module must come from the staging root, not the source tree."""
    lib = staging / "usr/lib/ikev2d"
    code = f"""
import importlib, pkgutil, sys
before = set(sys.modules)  # what site loaded at start-up (.pth hooks) is not ours
sys.path.insert(0, {str(lib)!r})
import ikev2d
names = ["ikev2d"] + [m.name for m in pkgutil.walk_packages(ikev2d.__path__, "ikev2d.")]
for name in names:
    importlib.import_module(name)
allowed = set(sys.stdlib_module_names) | {{"ikev2d", "cryptography", "pyroute2", "_cffi_backend",
    "cffi", "_openssl", "__main__", "__mp_main__"}}
foreign = sorted({{m.split(".")[0] for m in set(sys.modules) - before}} - allowed)
outside = [m.__file__ for n, m in sys.modules.items()
           if n.split(".")[0] == "ikev2d" and not m.__file__.startswith({str(lib)!r})]
print(len(names), foreign, outside)
assert not foreign, foreign
assert not outside, outside
"""
    proc = subprocess.run(
        [sys.executable, "-I", "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=str(staging),
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    count = int(proc.stdout.split()[0])
    assert count == len(list((ROOT / "src/ikev2d").rglob("*.py")))


def test_launcher_entry_points_exist(staging):
    cli = staging / "usr/lib/ikev2d/ikev2d/cli.pyc"
    assert cli.is_file(), "src/ikev2d/cli.py (daemon_main, ctl_main) does not exist yet"
    assert not list((staging / "usr/lib/ikev2d").rglob("*.py"))  # bytecode only


def test_ikev2d_version_from_the_staging_root(staging):
    proc = _run(staging, "ikev2d", "--version")
    assert proc.returncode == 0, proc.stderr
    version = (ROOT / "src/ikev2d/__init__.py").read_text().split('"')[1]
    assert version in proc.stdout + proc.stderr


def test_ikev2ctl_help_from_the_staging_root(staging):
    proc = _run(staging, "ikev2ctl", "--help")
    assert proc.returncode == 0, proc.stderr
    for command in ("status", "clients", "disconnect", "reload", "check", "profile"):
        assert command in proc.stdout


def test_check_of_the_shipped_defaults_and_of_a_ready_config(staging, tmp_path):
    """The shipped config (no key yet) is reported, one line per problem, exit 2; with a
    key set it passes. Run as the init script runs it, with a router's /etc/config/network
    (the LAN gives the default subnet and DNS) standing in for this machine's missing one."""
    default = staging / "etc/config/ikev2d"
    network = tmp_path / "network"
    network.write_text(
        "config interface 'lan'\n\toption proto 'static'\n\toption ipaddr '192.168.1.1'\n"
        "\toption netmask '255.255.255.0'\n"
    )
    lan = ("--network", str(network))
    proc = _run(staging, "ikev2d", "--uci", str(default), *lan, "--check")
    assert "Traceback" not in proc.stderr
    if proc.returncode == 2:
        assert proc.stdout.strip() and any("psk" in line for line in proc.stdout.splitlines())
    else:
        assert proc.returncode == 0, proc.stdout + proc.stderr
    ready = tmp_path / "ikev2d"
    (tmp_path / "ikev2d_secrets").write_text(
        (staging / "etc/config/ikev2d_secrets")
        .read_text()
        .replace("option psk ''", "option psk 'correct horse battery staple 42 routers'")
    )
    ready.write_text(
        default.read_text()
        .replace("option enabled '0'", "option enabled '1'")
        .replace(
            "option wan_interface 'wan'",
            "option wan_interface 'wan'\n\toption server_address 'vpn.example.org'",
        )
    )
    proc = _run(staging, "ikev2d", "--uci", str(ready), *lan, "--check")
    assert proc.returncode == 0, proc.stdout + proc.stderr
