"""Why the server is not running, as `ubus call ikev2d status` (LuCI's Status page) says it,
from the init script under real procd and from the daemon: disabled, a refused configuration
with its problems (also while an earlier one keeps running), the ports taken by another
program, a clean stop."""

from __future__ import annotations

from testbed import wait_until
from testbed.openwrt_service import (
    PSK,
    daemon_pid,
    enable,
    rpcd_call,
    status,
    uci_commit,
    wait_stopped,
)


def _reason(router, expected: str, timeout: float = 20) -> dict:
    """The status once it gives `expected` as the reason (procd acts asynchronously)."""
    seen: list[dict] = []

    def reached():
        seen.append(status(router))
        return not seen[-1].get("running") and seen[-1].get("reason") == expected

    wait_until(reached, timeout, interval=0.2, what=f"status reason {expected} (last {seen[-1:]})")
    return seen[-1]


def _set_key(router) -> None:
    rpcd_call(router, "uci", "set", {"config": "ikev2d_secrets", "section": "server",
                                     "values": {"psk": PSK}})  # fmt: skip
    rpcd_call(router, "uci", "commit", {"config": "ikev2d_secrets"})


def test_disabled(installed):
    assert _reason(installed, "disabled") == {"running": False, "reason": "disabled", "clients": []}


def test_a_refused_configuration_names_its_problem(installed):
    _set_key(installed)
    uci_commit(installed, {"enabled": "1", "pool": "10.10.10.5/24"})
    state = _reason(installed, "config_error")
    assert state["problems"] == [
        "server.pool: '10.10.10.5/24' has host bits set (the network is 10.10.10.0/24) "
        "(allowed: an IPv4 network like 10.10.10.0/24, prefix 8..30)"
    ]
    uci_commit(installed, {"pool": "10.10.10.0/24"})  # corrected: it starts, the record goes
    wait_until(lambda: status(installed).get("running"), 30, interval=0.2, what="running")
    assert not installed.exists("/var/run/ikev2d/refused.json")


def test_settings_refused_while_running_are_shown_beside_the_running_server(installed):
    pid = enable(installed)
    uci_commit(installed, {"pool": "10.10.10.5/24", "port": "0"})  # Save & Apply, by hand

    def refused():
        return status(installed).get("refused")

    record = wait_until(refused, 20, interval=0.2, what="the refusal in the status")
    state = status(installed)
    assert state["running"] is True and state["pid"] == pid == daemon_pid(installed)
    assert record["reason"] == "config_error"
    assert sorted(p.split(":")[0] for p in record["problems"]) == ["server.pool", "server.port"]
    uci_commit(installed, {"pool": "10.10.10.0/24", "port": "500"})  # corrected and applied
    wait_until(lambda: not refused(), 20, interval=0.2, what="the refusal gone")
    assert status(installed)["pid"] == pid  # a reload, the same daemon


def test_the_ports_taken_by_another_program(installed):
    installed.spawn(
        ["python3", "-c", "import socket, time; s = socket.socket(socket.AF_INET, "
         "socket.SOCK_DGRAM); s.bind(('0.0.0.0', 500)); time.sleep(600)"],
        "udp500",
    )  # fmt: skip
    wait_until(lambda: ":500 " in installed.run(["ss", "-Hulpn"]).stdout, 10, what="port 500 taken")
    _set_key(installed)
    uci_commit(installed, {"enabled": "1"})
    state = _reason(installed, "port_in_use")
    assert (
        state["detail"]
        == "cannot start: [Errno 98] cannot listen on 0.0.0.0:500: Address already in use"
    )


def test_a_clean_stop(installed):
    enable(installed)
    installed.run(["/etc/init.d/ikev2d", "stop"])
    wait_stopped(installed)
    assert _reason(installed, "stopped")["clients"] == []
