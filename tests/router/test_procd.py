"""/etc/init.d/ikev2d under real procd: start, status, reload, triggers, respawn, stop, disable."""

from __future__ import annotations

from testbed import wait_until
from testbed.openwrt_service import (
    PSK,
    daemon_pid,
    enable,
    instance,
    status,
    uci_commit,
    wait_serving,
    wait_stopped,
)


def _log_since(router, mark: int):
    return router.log()[mark:]


def test_disabled_service_says_why_and_runs_nothing(installed):
    # opkg's postinst enabled and started the service; the shipped config is off
    assert installed.exists("/etc/rc.d/S90ikev2d")
    line = installed.wait_log(lambda line: line.tag == "ikev2d" and "not starting" in line.text)
    assert "disabled" in line.text and line.priority == "daemon.notice"
    assert instance(installed) == {}
    assert not installed.pidof("python3")


def test_a_key_without_enabled_still_runs_nothing(installed):
    uci_commit(installed, {"psk": PSK})
    installed.wait_log(lambda line: "not starting: disabled" in line.text and line.tag == "ikev2d")
    installed.run(["/etc/init.d/ikev2d", "start"])
    assert instance(installed) == {}


def test_enable_start_status_stop_start_disable(installed):
    pid = enable(installed)
    assert installed.run(["/etc/init.d/ikev2d", "status"]).stdout.strip() == "running"
    assert instance(installed)["command"][:3] == ["/usr/sbin/ikev2d", "--uci", "/etc/config/ikev2d"]

    installed.run(["/etc/init.d/ikev2d", "stop"])
    wait_stopped(installed)
    assert installed.run(["/etc/init.d/ikev2d", "status"], check=False).stdout.strip() != "running"

    installed.run(["/etc/init.d/ikev2d", "start"])
    assert wait_serving(installed, old_pid=pid)

    installed.run(["/etc/init.d/ikev2d", "disable"])
    assert not installed.exists("/etc/rc.d/S90ikev2d")
    assert installed.run(["/etc/init.d/ikev2d", "enabled"], check=False).returncode != 0


def test_reload_keeps_the_daemon_and_its_tunnels(installed):
    """A change the daemon applies live (log level, proposals ...) is a SIGHUP to the same
    process: no restart, so connected clients stay."""
    pid = enable(installed)
    mark = len(installed.log())
    uci_commit(installed, {"dpd_delay": "45"})
    installed.wait_log(lambda line: "reload: configuration reloaded" in line.text)
    assert daemon_pid(installed) == pid
    assert not [line for line in _log_since(installed, mark) if "started" in line.text]

    installed.run(["/etc/init.d/ikev2d", "reload"])
    assert daemon_pid(installed) == pid


def test_config_change_trigger_reloads_and_starts(installed):
    """procd's reload trigger on 'config.change' (sent by rpcd's uci commit, LuCI's save):
    enabling starts the daemon, disabling stops it."""
    pid = enable(installed)
    uci_commit(installed, {"enabled": "0"})
    wait_stopped(installed)
    uci_commit(installed, {"enabled": "1"})
    assert wait_serving(installed, old_pid=pid)


def test_broken_config_is_refused_and_the_daemon_keeps_the_old_one(installed):
    pid = enable(installed)
    uci_commit(installed, {"pool": "10.10.10.0/33"})
    line = installed.wait_log(lambda line: "reload refused" in line.text)
    assert line.priority == "daemon.err"
    assert any("server.pool" in line.text for line in installed.log())  # names the option
    assert daemon_pid(installed) == pid
    assert status(installed)["running"]


def test_respawn_after_kill(installed):
    pid = enable(installed)
    installed.run(["kill", "-9", str(pid)])
    new_pid = wait_serving(installed, old_pid=pid, timeout=30)
    assert new_pid != pid


def test_stop_ends_the_daemon_gracefully(installed):
    pid = enable(installed)
    installed.run(["/etc/init.d/ikev2d", "stop"])
    wait_stopped(installed)
    installed.wait_log(lambda line: line.tag == "ikev2d" and line.text.endswith("stopped"))
    assert not installed.exists(f"/proc/{pid}")


def test_enabled_zero_and_reload_stops(installed):
    enable(installed)
    installed.run(["uci", "set", "ikev2d.server.enabled=0"])
    installed.run(["uci", "commit", "ikev2d"])
    installed.run(["/etc/init.d/ikev2d", "reload"])
    wait_stopped(installed)
    wait_until(lambda: not instance(installed), 10, what="no instance registered")


def test_start_with_a_broken_config_logs_each_problem_and_runs_nothing(installed):
    installed.run(["uci", "set", f"ikev2d.server.psk={PSK}"])
    installed.run(["uci", "set", "ikev2d.server.enabled=1"])
    installed.run(["uci", "set", "ikev2d.server.port=0"])
    installed.run(["uci", "set", "ikev2d.server.pool=not-a-network"])
    installed.run(["uci", "commit", "ikev2d"])
    installed.run(["/etc/init.d/ikev2d", "start"], check=False)
    end = installed.wait_log(lambda line: line.text == "not starting" and line.tag == "ikev2d")
    lines = installed.log()
    head = next(line for line in lines if line.text == "/etc/config/ikev2d has problems:")
    problems = lines[lines.index(head) + 1 : lines.index(end)]
    assert {p.priority for p in [head, *problems, end]} == {"daemon.err"}
    # every problem, each naming the option and the value as the daemon says
    assert [p.text.split(":")[0] for p in problems] == ["server.port", "server.pool"]
    assert instance(installed) == {}


def test_shell_owner_commits_and_reloads(installed):
    """docs/packaging.md without LuCI: uci commit from the shell tells procd nothing, the
    init script's reload then starts the daemon."""
    installed.sh(
        f"uci set ikev2d_secrets.server.psk='{PSK}'; uci set ikev2d.server.enabled=1;"
        " uci commit ikev2d_secrets; uci commit ikev2d"
    )
    assert daemon_pid(installed) == 0
    installed.run(["/etc/init.d/ikev2d", "reload"])
    assert wait_serving(installed)
