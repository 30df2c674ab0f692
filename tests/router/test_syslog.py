"""The daemon's log lines reach the router's syslog at their own level: info as daemon.info,
warnings as daemon.warn, errors as daemon.err (procd alone would log all of stderr as err)."""

from __future__ import annotations

from testbed.openwrt_service import rpcd_call, uci_commit, wait_serving


def _daemon_lines(router, pid):
    return [line for line in router.log() if line.tag == "ikev2d" and line.pid == pid]


def test_each_line_keeps_its_level(installed):
    # a weak key accepted on purpose: the daemon warns about it when it starts
    installed.run(["uci", "set", "ikev2d_secrets.server=ikev2d"])
    installed.run(["uci", "set", "ikev2d_secrets.server.psk=Tr0ub4dor-x"])
    installed.run(["uci", "commit", "ikev2d_secrets"])
    uci_commit(installed, {"enabled": "1", "allow_weak_psk": "1"})
    pid = wait_serving(installed)
    started = installed.wait_log(lambda line: line.pid == pid and "started" in line.text)
    assert started.priority == "daemon.info"
    warning = next(line for line in _daemon_lines(installed, pid) if "allow_weak_psk" in line.text)
    assert warning.priority == "daemon.warn"
    assert "Tr0ub4dor" not in warning.text  # the key itself is never logged

    # a broken file on disk, reloaded by the daemon itself (no init script check): an error
    installed.run(["uci", "set", "ikev2d.server.pool=10.10.10.0/33"])
    installed.run(["uci", "commit", "ikev2d"])
    reply = rpcd_call(installed, "ikev2d", "reload")
    assert reply["ok"] is False and "server.pool" in reply["error"]
    error = installed.wait_log(lambda line: line.pid == pid and "reload refused" in line.text)
    assert error.priority == "daemon.err"

    # nothing of this daemon went to syslog as stderr (which procd tags daemon.err)
    assert not [line for line in _daemon_lines(installed, pid) if " ikev2d info:" in line.text]
