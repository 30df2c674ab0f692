"""The daemon's import set stays light (issue 8: the router has little RAM).

Asserts on module sets in a fresh interpreter, never on timings or RSS (those are bench/'s):
if a change makes the daemon import pyroute2's IPRoute/NDB (~25 MB), asyncio, logging, the
PKI code or the profile generators again, a test here names the module and the importer.
See docs/footprint.md for the figures behind each line.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

# What starting a PSK daemon loads: the loop, the CLI, a Daemon with its responder.
_DAEMON = """
from ikev2d.daemon.loop import Daemon
import ikev2d.cli
ikev2d.cli._daemon_args(["--config", "ikev2d.toml", "--syslog"])
from ikev2d.policy.config import from_mapping
config = from_mapping({"server": {
    "psk": "Zq7-wX4k-Mv8p-Jy3n-Tc6d", "local_id": "vpn.example.test", "local_id_type": "fqdn",
    "local_subnet": ["192.168.1.0/24"], "pki_dir": PKI_DIR}})
Daemon(config, datapath=None)
"""
# What the real datapath adds (XFRM, routes, IKE socket options): imported, no socket opened.
_KERNEL = """
import ikev2d.daemon.datapath, ikev2d.kernel.datapath
"""

_NEVER = {
    "asyncio": "a separate, heavier OpenWrt package; the loop uses selectors",
    "pyroute2.iproute": "IPRoute: ~25 MB with the rest of pyroute2's __init__ (kernel/_pyroute2)",
    "pyroute2.ndb": "NDB: loaded by pyroute2's __init__ (kernel/_pyroute2)",
    "pyroute2.ipdb": "IPDB: loaded by pyroute2's __init__ (kernel/_pyroute2)",
    "pyroute2.config": "pyroute2's __init__ ran (kernel/_pyroute2)",
    "multiprocessing": "pyroute2's __init__ ran (kernel/_pyroute2)",
    "concurrent": "only asyncio and pyroute2's __init__ bring it",
    "sqlite3": "pyroute2's NDB",
    "xml": "nothing in the daemon parses XML (profiles write plists by hand)",
    "http": "no HTTP in the daemon",
    "unittest": "test code in the daemon",
    "ikev2d.profiles": "profiles are built by ikev2ctl, offline",
    "ikev2d.offline": "ikev2ctl's offline commands",
    "ikev2d.pki_files": "PSK without a PKI directory has no CA to load (daemon/credentials)",
    "ikev2d.auth.signatures": "certificate signatures load only with credentials (ike_auth)",
    "ikev2d.auth.eap_mschapv2": "EAP loads when a client asks for it (ike/eap_auth)",
    "cryptography.x509": "X.509 is for certificate and EAP clients only",
    "email": "brought by cryptography.x509; a separate OpenWrt package",
    "cryptography": "loaded by the first key exchange, cipher or MAC (crypto/digests.py)",
    "hashlib": "a second OpenSSL (_hashlib) next to cryptography's (crypto/digests.py)",
    "hmac": "imports hashlib; constant-time comparison is crypto.digests.constant_time_equal",
    "shutil": "argparse's terminal width (and zlib, bz2, lzma): cli._HelpFormatter",
    "difflib": "option-name suggestions, only for a configuration with a mistake",
    "argparse": "procd's command line is read without it (cli._plain_daemon_args)",
    "gettext": "argparse's messages: only for --help and command-line mistakes",
    "dataclasses": "value objects at start are wire.frozen classes: each dataclass takes ~1 ms "
    "to build, the module brings inspect, ast, dis, tokenize (~1.8 MB)",
    "inspect": "brought by dataclasses (with ast, dis and tokenize)",
    "ikev2d.ike.credentials": "certificates load with auth_mode eap or cert (daemon/credentials)",
    "datetime": "certificate dates (daemon/credentials); TOML's dates (tomllib, not on UCI)",
    "ikev2d.policy.uci": "the UCI reader, for UCI configurations only",
    "ikev2d.ike.ike_sa_init": "the exchanges load with the first client (ike/responder.py)",
    "ikev2d.ike.exchanges": "the exchanges load with the first client (ike/responder.py)",
    "ikev2d.ike.tasks": "our own requests load with the first SA timer (ike/responder.py)",
    "ikev2d.ike.ike_auth": "the exchanges load with the first client (ike/responder.py)",
    "ikev2d.ike.eap_auth": "EAP loads with the first IKE_AUTH (ike/ike_auth.py)",
    "ikev2d.ike.mobike": "MOBIKE loads with the first client that moves (ike/responder.py)",
    "ikev2d.ike.create_child": "rekeying loads with the first CREATE_CHILD_SA or expiry",
    "ikev2d.wire.message": "the message codec loads with the first datagram (ike/responder.py)",
    "ikev2d.wire.payloads": "payload classes load with the codec (wire/__init__ is lazy)",
    "ikev2d.ike.events": "events load with the first one (responder; daemon.actions by name)",
    "ikev2d.ike.sa": "the SA's data load with the first SA (the responder needs ike.state only)",
}
# Without the kernel room: pyroute2.netlink brings logging (pyroute2.common), the core never.
_NEVER_WITHOUT_KERNEL = {
    "pyroute2": "the kernel room is imported only by open_kernel_datapath()",
    "logging": "compat.Logger replaces it (python3-logging is a separate OpenWrt package)",
}


def _modules(code: str, tmp_path) -> set[str]:
    script = f"PKI_DIR = {str(tmp_path / 'no-pki')!r}\n{code}\n"
    script += "import json, sys\nprint(json.dumps(sorted(sys.modules)))\n"
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         timeout=120)  # fmt: skip
    assert out.returncode == 0, out.stderr
    return set(json.loads(out.stdout.splitlines()[-1]))


def _loaded(modules: set[str], name: str) -> list[str]:
    found = sorted(m for m in modules if m == name or m.startswith(name + "."))
    # cryptography < 42 loads X.509 (and so email) from its OpenSSL backend itself: not ours
    return [m for m in found if m not in _CRYPTOGRAPHY_OWN]


def _cryptography_own_modules() -> frozenset[str]:
    code = "import cryptography.hazmat.backends.openssl, json, sys\n"
    code += "print(json.dumps(list(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, check=True)  # fmt: skip
    return frozenset(m for m in json.loads(out.stdout) if m.split(".")[0] == "email" or "x509" in m)


_CRYPTOGRAPHY_OWN = _cryptography_own_modules()


@pytest.fixture(scope="module")
def daemon_modules(tmp_path_factory) -> set[str]:
    return _modules(_DAEMON, tmp_path_factory.mktemp("fp"))


@pytest.fixture(scope="module")
def kernel_modules(tmp_path_factory) -> set[str]:
    return _modules(_DAEMON + _KERNEL, tmp_path_factory.mktemp("fp"))


@pytest.mark.parametrize("name", sorted(_NEVER | _NEVER_WITHOUT_KERNEL))
def test_psk_daemon_does_not_import(daemon_modules, name):
    why = _NEVER.get(name) or _NEVER_WITHOUT_KERNEL[name]
    assert not _loaded(daemon_modules, name), why


@pytest.mark.parametrize("name", sorted(_NEVER))
def test_kernel_datapath_does_not_import(kernel_modules, name):
    assert not _loaded(kernel_modules, name), _NEVER[name]


def test_kernel_datapath_uses_pyroute2_netlink_only(kernel_modules):
    pyroute2 = _loaded(kernel_modules, "pyroute2")
    assert "pyroute2.netlink" in pyroute2  # the XFRM message classes still come from there
    assert len(pyroute2) < 20, pyroute2  # pyroute2's __init__ alone loads ~165
