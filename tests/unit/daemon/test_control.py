"""The control protocol: JSON lines, errors, bounds, socket permissions, reload and check."""

from __future__ import annotations

import json
import os
import socket
import stat
import tomllib

import pytest
from daemon_support import LogCapture, server_table

from ikev2d.compat import Logger
from ikev2d.daemon.control import MAX_LINE, CommandError, dispatch, open_control_socket

LOG = Logger("debug", stream=LogCapture())


def boom(request):
    raise KeyError("bug")


def refuse(request):
    raise CommandError("no such client")


COMMANDS = {"echo": lambda req: req.get("x"), "boom": boom, "refuse": refuse}


@pytest.mark.parametrize(
    ("line", "reply"),
    [
        (b'{"cmd": "echo", "x": 5}', {"ok": True, "result": 5}),
        (b"{not json", {"ok": False, "error": "invalid JSON"}),
        (b"[1, 2]", {"ok": False, "error": 'a request is an object with a "cmd" string'}),
        (b'{"cmd": 3}', {"ok": False, "error": 'a request is an object with a "cmd" string'}),
        (b'{"cmd": "refuse"}', {"ok": False, "error": "no such client"}),
        (b'{"cmd": "boom"}', {"ok": False, "error": "internal error: KeyError"}),
    ],
)
def test_dispatch(line, reply):
    assert dispatch(line, COMMANDS, LOG) == reply


def test_unknown_command_lists_the_known_ones():
    reply = dispatch(b'{"cmd": "selfdestruct"}', COMMANDS, LOG)
    assert reply["ok"] is False
    assert "'selfdestruct'" in reply["error"] and "boom, echo, refuse" in reply["error"]


def test_socket_is_0600_in_a_0700_directory_and_a_stale_one_is_replaced(tmp_path):
    path = str(tmp_path / "run" / "control.sock")
    first = open_control_socket(path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(tmp_path / "run").st_mode) == 0o700
    with pytest.raises(OSError, match="another ikev2d is running"):
        open_control_socket(path)  # a live listener is never stolen
    first.close()  # the file stays, as after a crash
    second = open_control_socket(path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    second.close()


def raw(d, data: bytes) -> list[dict]:
    """Send raw bytes, read reply lines until the daemon closes or 5 s pass."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(5)
        s.connect(d.config.control_socket)
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)
        got = b""
        while chunk := s.recv(65536):
            got += chunk
    return [json.loads(line) for line in got.splitlines()]


def test_several_requests_on_one_connection_each_get_a_line(start_daemon):
    d = start_daemon()
    replies = raw(d, b'{"cmd": "clients"}\n\n{"cmd": "nope"}\n{bad\n')
    assert replies[0] == {"ok": True, "result": []}
    assert replies[1]["ok"] is False and "unknown command" in replies[1]["error"]
    assert replies[2] == {"ok": False, "error": "invalid JSON"}


def test_an_endless_line_is_refused(start_daemon):
    d = start_daemon()
    replies = raw(d, b"x" * (MAX_LINE + 10))
    assert replies == [{"ok": False, "error": "request line too long"}]
    assert d.control({"cmd": "clients"})["ok"]  # and the daemon carries on


def test_status_lists_listen_addresses_and_no_secret(start_daemon):
    d = start_daemon()
    status = d.control({"cmd": "status"})["result"]
    assert status["running"] is True and status["pid"] == os.getpid()
    assert status["listen"] == [f"127.0.0.1:{d.config.port}", f"127.0.0.1:{d.config.natt_port}"]
    assert status["uptime"] >= 0 and status["clients"] == [] and status["failures"] == []
    assert d.config.psk not in json.dumps(status)


def test_disconnect_needs_a_target(start_daemon):
    d = start_daemon()
    reply = d.control({"cmd": "disconnect"})
    assert reply["ok"] is False and "target" in reply["error"]
    reply = d.control({"cmd": "disconnect", "target": "nobody"})
    assert reply == {"ok": False, "error": "no connected client matches 'nobody'"}


# -- reload and check over the control socket -----------------------------------------------------
def write_toml(path, server: dict) -> None:
    lines = ["[server]"]
    for key, value in server.items():
        lines.append(f"{key} = {json.dumps(value)}")
    path.write_text("\n".join(lines) + "\n")
    tomllib.loads(path.read_text())  # what we wrote is TOML


@pytest.fixture
def daemon_with_file(tmp_path, datapath):
    from daemon_support import RunningDaemon

    from ikev2d.daemon.loop import Daemon
    from ikev2d.policy.config import load_toml

    path = tmp_path / "ikev2d.toml"
    server = server_table(tmp_path)
    write_toml(path, server)
    capture = LogCapture()
    daemon = Daemon(
        load_toml(str(path)),
        datapath=datapath,
        load_config=lambda: load_toml(str(path)),
        log=Logger("debug", stream=capture),
    )
    daemon.start()
    running = RunningDaemon(daemon, capture)
    running.thread.start()
    yield running, path, server
    running.stop()


def test_reload_and_check(daemon_with_file):
    d, path, server = daemon_with_file
    reply = d.control({"cmd": "reload"})
    assert reply["result"] == {"applied": False, "message": "configuration unchanged"}
    assert d.daemon.datapath.blocked_pools == ["10.10.10.0/24"]  # since the start

    write_toml(path, {**server, "pool": "10.20.30.0/24"})
    reply = d.control({"cmd": "reload"})
    assert reply["result"] == {
        "applied": True,
        "message": "configuration reloaded",
        "disconnected": [],
        "restart_needed": [],
    }
    assert str(d.daemon.config.pool) == "10.20.30.0/24"
    # clear packets from the pool are dropped by the kernel: the new pool is blocked now
    assert d.daemon.datapath.blocked_pools == ["10.20.30.0/24"]

    # a new port needs a restart: the rest applies, the sockets stay as bound
    write_toml(path, {**server, "pool": "10.20.30.0/24", "port": server["port"] + 1,
                      "dpd_delay": 77})  # fmt: skip
    reply = d.control({"cmd": "reload"})["result"]
    assert reply["applied"] is True and reply["restart_needed"] == ["port"]
    assert "port changed: restart ikev2d to apply" in reply["message"]
    assert d.daemon.config.port == server["port"] and d.daemon.config.dpd_delay == 77

    write_toml(path, {**server, "pool": "10.0.0.0/33", "dpd_delay": -1})
    reply = d.control({"cmd": "reload"})
    assert reply["ok"] is False and reply["error"].startswith("server.pool:")
    assert "; server.dpd_delay: -1" in reply["error"]  # every problem, on one line
    assert str(d.daemon.config.pool) == "10.20.30.0/24"  # the running config stays
    check = d.control({"cmd": "check"})["result"]
    assert check["valid"] is False
    assert [p.split(":")[0] for p in check["problems"]] == ["server.pool", "server.dpd_delay"]

    write_toml(path, {**server, "psk": "Xyzzy42", "allow_weak_psk": True})
    check = d.control({"cmd": "check"})["result"]
    assert check["valid"] is True and check["warnings"] and "Xyzzy42" not in json.dumps(check)


def test_profile_command_gives_a_download_and_refuses_bad_requests(daemon_with_file):
    import base64
    import plistlib

    running, path, server = daemon_with_file
    reply = running.control({"cmd": "profile", "platform": "ios"})
    assert reply["ok"] is False and "server_address" in reply["error"]
    write_toml(path, {**server, "server_address": "vpn.example.test"})
    assert running.control({"cmd": "reload"})["ok"]
    reply = running.control({"cmd": "profile", "platform": "ios"})
    assert reply["ok"], reply
    result = reply["result"]
    assert result["filename"].endswith(".mobileconfig") and result["contains_secret"]
    plist = plistlib.loads(base64.b64decode(result["data"]))
    vpn = next(p for p in plist["PayloadContent"] if p["PayloadType"] == "com.apple.vpn.managed")
    assert vpn["IKEv2"]["AuthenticationMethod"] == "SharedSecret"
    for bad in ({"cmd": "profile"}, {"cmd": "profile", "platform": "amiga"},
                {"cmd": "profile", "platform": "ios", "user": ["x"]}):  # fmt: skip
        answer = running.control(bad)
        assert answer["ok"] is False
        assert "platform" in answer["error"] or "user" in answer["error"]
