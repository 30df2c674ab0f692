"""The ubus object 'ikev2d' through real rpcd, real sessions and LuCI's ACL, called the way
LuCI calls it (JSON-RPC to uhttpd's /ubus): what a read-only user may do, what an
administrator may do, clean JSON errors for bad parameters, and no Python for status."""

from __future__ import annotations

import json

import pytest

from testbed.openwrt_service import daemon_pid, enable, uci_commit, wait_serving

ADMIN = ("admin", "admin secret 1")  # like root: read '*' and write '*'
VIEWER = ("viewer", "viewer secret 2")  # only the read part of luci-app-ikev2d
DENIED = -32002  # uhttpd's answer when the session's ACL does not grant the call


@pytest.fixture
def sessions(installed):
    installed.add_login(*ADMIN, read="*", write="*")
    installed.add_login(*VIEWER, read="luci-app-ikev2d", write="")
    enable(installed, server_address="vpn.example.test")
    return {"admin": installed.login(*ADMIN), "viewer": installed.login(*VIEWER)}


def _call(router, sid, method, args=None):
    return router.ubus_session(sid, "ikev2d", method, args)


def _data(reply):
    """The object a successful call returned (uhttpd: result = [0, data])."""
    assert "result" in reply, reply
    status, *data = reply["result"]
    assert status == 0, reply
    return data[0] if data else {}


def test_viewer_reads_status_and_may_write_nothing(installed, sessions):
    sid = sessions["viewer"]
    assert _data(_call(installed, sid, "status"))["running"] is True
    for method, args in (
        ("disconnect", {"target": "alice"}),
        ("reload", {}),
        ("check", {}),
        ("profile", {"platform": "ios"}),
    ):
        reply = _call(installed, sid, method, args)
        assert reply.get("error", {}).get("code") == DENIED, (method, reply)


def test_viewer_cannot_write_the_config(installed, sessions):
    args = {"config": "ikev2d", "section": "server", "values": {"enabled": "0"}}
    reply = installed.ubus_session(sessions["viewer"], "uci", "set", args)
    assert reply.get("error", {}).get("code") == DENIED or reply["result"][0] != 0


def test_admin_calls_answer(installed, sessions):
    sid = sessions["admin"]
    assert _data(_call(installed, sid, "status"))["listen"]
    check = _data(_call(installed, sid, "check"))
    assert check["ok"] is True, check
    profile = _data(_call(installed, sid, "profile", {"platform": "ios"}))
    assert profile["ok"] is True, profile


@pytest.mark.parametrize(
    ("method", "args"),
    [
        ("disconnect", {}),
        ("disconnect", {"target": ""}),
        ("disconnect", {"target": "a\nb"}),
        ("disconnect", {"target": "x" * 300}),
        ("disconnect", {"target": "nobody-connected"}),
        ("disconnect", {"target": 42}),
        ("profile", {}),
        ("profile", {"platform": "amiga"}),
        ("profile", {"platform": ["ios"]}),
        ("status", {"unexpected": True}),
    ],
)
def test_bad_parameters_give_a_clean_json_error(installed, sessions, method, args):
    reply = _call(installed, sessions["admin"], method, args)
    if "error" in reply:  # refused by rpcd/uhttpd itself: a JSON-RPC error object
        assert set(reply["error"]) >= {"code", "message"}
        return
    data = _data(reply)
    if method == "status":
        assert data["running"] is True
        return
    assert data["ok"] is False and isinstance(data["error"], str) and data["error"]
    assert "Traceback" not in data["error"]


def test_unknown_method_is_refused(installed, sessions):
    reply = _call(installed, sessions["admin"], "shutdown")
    assert "error" in reply or reply["result"][0] != 0


def test_status_never_starts_python(installed, sessions):
    """LuCI polls status every 5 s: it must cost a shell, not an interpreter. Every start of
    python3 inside the router is counted (the daemon's own start, before, included)."""
    wrapper = installed.read("/usr/bin/python3")
    counted = wrapper.replace("exec ", "echo started >> /tmp/python3.starts\nexec ", 1)
    installed.write("/usr/bin/python3", counted, 0o755)

    def starts() -> int:
        return (
            len(installed.read("/tmp/python3.starts").splitlines())
            if installed.exists("/tmp/python3.starts")
            else 0
        )

    for _ in range(10):
        assert _data(_call(installed, sessions["admin"], "status"))["running"] is True
        assert _data(_call(installed, sessions["viewer"], "status"))["running"] is True
    assert starts() == 0

    # a method that does start Python (the helper, which runs `ikev2d --check`) is seen: the
    # count above is not blind
    _call(installed, sessions["admin"], "check")
    assert starts() == 2


def test_disconnect_reaches_the_daemon_and_its_answer_comes_back(installed, sessions):
    """The target travels as JSON to the daemon's control socket, never through a shell; the
    daemon's refusal comes back word for word."""
    reply = _data(_call(installed, sessions["admin"], "disconnect", {"target": "alice; rm -rf /"}))
    assert reply["ok"] is False
    assert "alice; rm -rf /" in reply["error"]  # the daemon saw the whole string
    assert installed.exists("/etc/config/ikev2d")


def test_write_methods_say_when_the_daemon_is_not_running(installed, sessions):
    installed.run(["/etc/init.d/ikev2d", "stop"])
    reply = _data(_call(installed, sessions["admin"], "disconnect", {"target": "alice"}))
    assert reply == {"ok": False, "error": "ikev2d is not running"}
    status = _data(_call(installed, sessions["viewer"], "status"))
    assert status["running"] is False and status["reason"] == "stopped"


def test_check_reports_the_problems_of_the_saved_file(installed, sessions):
    installed.run(["uci", "set", "ikev2d.server.pool=10.10.10.0/33"])
    installed.run(["uci", "commit", "ikev2d"])
    result = _data(_call(installed, sessions["admin"], "check"))["result"]
    assert result["valid"] is False
    assert any("server.pool" in problem for problem in result["problems"])


def test_a_state_dir_elsewhere_is_where_status_and_commands_find_the_daemon(installed, sessions):
    """state_dir (and with it the control socket) moved: LuCI's status, its write methods and
    ikev2ctl follow the configuration, not the package's default path."""
    old = daemon_pid(installed)
    uci_commit(installed, {"state_dir": "/tmp/ikev2d-state"})
    pid = wait_serving(installed, old_pid=old)  # a restart option: a new daemon, serving
    assert installed.exists("/tmp/ikev2d-state/control.sock")
    assert _data(_call(installed, sessions["viewer"], "status"))["pid"] == pid
    reply = _data(_call(installed, sessions["admin"], "disconnect", {"target": "nobody"}))
    assert reply["ok"] is False and "not running" not in reply["error"]  # the daemon answered
    out = installed.run(["ikev2ctl", "status", "--json"]).stdout
    assert json.loads(out)["pid"] == pid
    installed.run(["/etc/init.d/ikev2d", "stop"])
    status = _data(_call(installed, sessions["viewer"], "status"))
    assert status["running"] is False and status["reason"] == "stopped"
