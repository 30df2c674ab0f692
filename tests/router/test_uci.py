"""The shipped UCI files through OpenWrt's real uci: `uci commit` (LuCI's save) rewrites them
without comments and without empty options, and they must mean the same after; the
uci-defaults scripts run twice change nothing the second time."""

from __future__ import annotations

from testbed.openwrt_service import CONFIG, enable
from testbed.paths import PROJECT

SHIPPED = ("ikev2d", "ikev2d_secrets")


def _show(router, config: str) -> str:
    return router.run(["uci", "show", config]).stdout


def test_shipped_config_round_trips_through_uci_commit(installed):
    before = {c: _show(installed, c) for c in SHIPPED}
    for config in SHIPPED:
        # a change, then its undo: uci commit rewrites the file as uci writes it
        installed.run(["uci", "set", f"{config}.roundtrip=probe"])
        installed.run(["uci", "delete", f"{config}.roundtrip"])
        installed.run(["uci", "commit", config])
    assert "#" not in installed.read(CONFIG)  # the comments are gone ...
    assert {c: _show(installed, c) for c in SHIPPED} == before  # ... the meaning is not
    check = installed.run(["/usr/sbin/ikev2d", "--uci", CONFIG, "--check"], check=False)
    assert check.returncode == 0, check.stdout + check.stderr
    assert enable(installed)  # and the daemon runs from the rewritten files


def test_the_daemon_reads_the_files_as_uci_does(installed):
    """The daemon parses the files itself; uci drops comments and empty options when it
    loads them, so a file as shipped and the same file rewritten by `uci commit` must
    check alike (same verdict, same problems and warnings)."""
    check = ["/usr/sbin/ikev2d", "--uci", CONFIG, "--check"]
    as_shipped = installed.run(check, check=False)
    assert "''" in installed.read("/etc/config/ikev2d_secrets")  # an empty option, shipped
    for config in SHIPPED:
        installed.run(["uci", "set", f"{config}.roundtrip=probe"])
        installed.run(["uci", "delete", f"{config}.roundtrip"])
        installed.run(["uci", "commit", config])
    assert "''" not in installed.read("/etc/config/ikev2d_secrets")
    rewritten = installed.run(check, check=False)
    assert (rewritten.returncode, rewritten.stdout) == (as_shipped.returncode, as_shipped.stdout)


def test_uci_defaults_are_idempotent(router):
    """Each uci-defaults script, run as default_postinst runs it (sourced from its folder,
    then `uci commit`), on a configuration an older release left: the second run changes
    nothing."""
    router.write(CONFIG, (PROJECT / "files/etc/config/ikev2d").read_text(), 0o600)
    router.run(["uci", "set", "ikev2d.server.psk=an older key in the main file"])
    router.run(["uci", "set", "dhcp.@dnsmasq[0].localservice=0"])
    router.run(["uci", "set", "dhcp.@dnsmasq[0].ikev2d_localservice=1"])
    router.run(["uci", "commit"])
    scripts = sorted((PROJECT / "files/etc/uci-defaults").iterdir())
    for script in scripts:
        router.write(f"/tmp/uci-defaults/{script.name}", script.read_text(), 0o755)

    def run_all() -> dict[str, str]:
        for script in scripts:
            router.sh(f"cd /tmp/uci-defaults && ( . ./{script.name} ) && uci commit")
        return {c: _show(router, c) for c in (*SHIPPED, "dhcp")}

    first = run_all()
    assert "ikev2d_secrets.server.psk='an older key in the main file'" in first["ikev2d_secrets"]
    assert "localservice='1'" in first["dhcp"]
    assert run_all() == first
