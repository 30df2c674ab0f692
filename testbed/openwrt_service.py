"""ikev2d as an OpenWrt service on a RouterNamespace: the built packages, installing them,
configuring and watching the service the way an owner (through LuCI or the shell) does, and the
firewall rules it brings. Used by tests/router and the whole-router world. Plain library code.

    packages = build_packages(tmp)          # both packages in both formats, by scripts/build_*
    install_opkg(router, packages)          # live, maintainer scripts run, service enabled
    pid = enable(router)                    # a key set and enabled through rpcd's uci object
    status(router)                          # `ubus call ikev2d status`
"""

from __future__ import annotations

import json
import re
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from .openwrt_pkg import apk, apk_setup, opkg, opkg_setup, put_packages
from .paths import PROJECT, script
from .proc import wait_until
from .routerns import RouterNamespace

__all__ = [
    "CONFIG",
    "PSK",
    "Packages",
    "build_packages",
    "daemon_pid",
    "enable",
    "ikev2d_rules",
    "install_apk",
    "install_opkg",
    "instance",
    "listening",
    "other_rules",
    "rpcd_call",
    "ruleset",
    "status",
    "uci_commit",
    "wait_rules",
    "wait_serving",
    "wait_stopped",
]

PSK = "correct horse battery staple 42"
CONFIG = "/etc/config/ikev2d"
RULE_TAG = "ubus:ikev2d["  # fw4's comment on every rule that rides on ikev2d's procd data


@dataclass(frozen=True)
class Packages:
    """The .ipk and .apk files of one build (a release, and the next one for upgrades)."""

    ipk: dict[str, Path]
    apk: dict[str, Path]
    stand_ins: tuple[str, ...]  # dependencies no test runs (python3-*, kmod-*, luci-base)


def build_packages(out: Path, release_bump: int = 0) -> Packages:
    """Both packages in both formats, made by the project's builders (`make ipk`, `make apk`);
    release_bump > 0 builds the same tree as a later release (PKG_RELEASE + bump), for
    upgrade tests."""
    build_ipk, build_apk = script("build_ipk"), script("build_apk")
    root = PROJECT
    if release_bump:
        root = out / "tree"
        for part in ("src", "files", "package", "luci-app"):
            shutil.copytree(
                PROJECT / part, root / part, ignore=shutil.ignore_patterns("__pycache__")
            )
        for makefile in root.glob("package/*/Makefile"):
            text = makefile.read_text()
            release = int(re.search(r"^PKG_RELEASE:=(\d+)", text, re.M).group(1))
            makefile.write_text(
                re.sub(
                    r"^PKG_RELEASE:=\d+", f"PKG_RELEASE:={release + release_bump}", text, flags=re.M
                )
            )
    # the router namespace's python3 is the interpreter running the tests, so both packages
    # carry its bytecode here; tests/packaging runs each release's bytecode on its own Python
    ipks = build_ipk.build_all(out / "dist", root, sys.executable)
    apks = build_apk.build_all(out / "dist", root, sys.executable)
    specs = (build_ipk.ikev2d_spec(root), build_ipk.luci_spec(root))
    names = {s.package for s in specs}
    stand_ins = sorted(
        {d.strip() for s in specs for d in s.fields["Depends"].split(",") if d.strip()} - names
    )
    return Packages(
        ipk={p.name.split("_")[0]: p for p in ipks},
        apk={p.name.rsplit("-", 2)[0]: p for p in apks},
        stand_ins=tuple(stand_ins),
    )


def install_opkg(router: RouterNamespace, packages: Packages) -> None:
    """Both .ipk installed live by opkg (maintainer scripts run, the service is enabled)."""
    opkg_setup(router, packages.stand_ins)
    paths = put_packages(router, [packages.ipk["ikev2d"], packages.ipk["luci-app-ikev2d"]])
    opkg(router, "install", *paths)


def install_apk(router: RouterNamespace, packages: Packages) -> None:
    apk_setup(router, packages.stand_ins)
    paths = put_packages(router, [packages.apk["ikev2d"], packages.apk["luci-app-ikev2d"]])
    apk(router, "add", *paths)


def rpcd_call(router: RouterNamespace, obj: str, method: str, args: dict | None = None):
    """`ubus call` to an object rpcd serves. Package scripts make rpcd re-execute itself
    (SIGHUP): while it does, its objects are briefly gone (ubus exit 4, "Not found") or a
    request it had taken is dropped unanswered (exit 249, timed out: -7). Then the call,
    which is idempotent, is made again, until rpcd is back."""

    def attempt():
        argv = ["ubus", "-t", "5", "call", obj, method, json.dumps(args or {})]
        proc = router.run(argv, check=False)
        if proc.returncode in (4, 249):
            return None
        if proc.returncode != 0:
            raise AssertionError(f"ubus call {obj} {method}: exit {proc.returncode} {proc.stderr}")
        return [json_out(proc.stdout)]

    return wait_until(attempt, 30, interval=0.1, what=f"rpcd object {obj}")[0]


def uci_commit(router: RouterNamespace, values: dict[str, str], section: str = "server") -> None:
    """Set options and commit through rpcd's uci object, as LuCI's Save & Apply does: the
    commit sends procd the config.change event ikev2d's reload trigger listens for."""
    rpcd_call(router, "uci", "set", {"config": "ikev2d", "section": section, "values": values})
    rpcd_call(router, "uci", "commit", {"config": "ikev2d"})


def instance(router: RouterNamespace) -> dict:
    """procd's view of ikev2d's instance ({} when none is registered)."""
    services = router.ubus("service", "list", {"name": "ikev2d"})
    return services.get("ikev2d", {}).get("instances", {}).get("instance1", {})


def daemon_pid(router: RouterNamespace) -> int:
    """The PID of the running daemon, 0 if procd runs none."""
    inst = instance(router)
    return inst.get("pid", 0) if inst.get("running") else 0


def status(router: RouterNamespace) -> dict:
    """`ubus call ikev2d status` through rpcd (the daemon's snapshot)."""
    return rpcd_call(router, "ikev2d", "status")


def wait_serving(router: RouterNamespace, timeout: float = 30, old_pid: int = 0) -> int:
    """Wait until procd runs the daemon (another one than old_pid) and its snapshot says it
    is running; its PID."""

    def serving():
        pid = daemon_pid(router)
        if pid and pid != old_pid and status(router).get("running"):
            return pid
        return 0

    return wait_until(serving, timeout, interval=0.1, what="ikev2d running under procd")


def wait_stopped(router: RouterNamespace, timeout: float = 30) -> None:
    wait_until(
        lambda: (
            not daemon_pid(router) and not router.pidof("python3") and not _daemon_alive(router)
        ),
        timeout,
        interval=0.1,
        what="ikev2d stopped",
    )


def _daemon_alive(router: RouterNamespace) -> bool:
    # [.] keeps this shell's own command line from matching
    out = router.sh("grep -l 'ikev2d[.]cli' /proc/[0-9]*/cmdline 2>/dev/null", check=False).stdout
    return bool(out.strip())


def enable(router: RouterNamespace, timeout: float = 30, **extra: str) -> int:
    """A key set and the service enabled through uci (as LuCI does: the key in the secrets
    file, policy.uci_secrets); the daemon's PID (waited for at most `timeout` s)."""
    rpcd_call(router, "uci", "set", {"config": "ikev2d_secrets", "section": "server",
                                     "values": {"psk": PSK}})  # fmt: skip
    rpcd_call(router, "uci", "commit", {"config": "ikev2d_secrets"})
    uci_commit(router, {"enabled": "1", **extra})
    return wait_serving(router, timeout)


def ruleset(router: RouterNamespace) -> str:
    return router.run(["nft", "list", "ruleset"]).stdout


def ikev2d_rules(router: RouterNamespace) -> list[str]:
    """The loaded nft rules that come from ikev2d's procd data."""
    return [line.strip() for line in ruleset(router).splitlines() if RULE_TAG in line]


def other_rules(router: RouterNamespace) -> list[str]:
    """Everything else of the loaded ruleset, counters blanked."""
    return [
        re.sub(r"counter packets \d+ bytes \d+", "counter", line)
        for line in ruleset(router).splitlines()
        if RULE_TAG not in line
    ]


def wait_rules(router: RouterNamespace, count: int, timeout: float = 20) -> list[str]:
    """Wait until exactly `count` ikev2d rules are loaded (fw4 reloads on procd's data
    trigger, about a second after the change); the rules."""
    seen: list[list[str]] = []

    def settled() -> bool:
        seen.append(ikev2d_rules(router))
        return len(seen[-1]) == count

    wait_until(settled, timeout, interval=0.2, what=f"{count} ikev2d firewall rules loaded")
    return seen[-1]


def listening(router: RouterNamespace) -> set[str]:
    """UDP sockets of the daemon: {'0.0.0.0:500', ...} from `ss` inside the router."""
    out = router.run(["ss", "-Hulnp"]).stdout
    return {line.split()[3] for line in out.splitlines() if "python" in line}


def json_out(text: str):
    return json.loads(text) if text.strip() else {}
