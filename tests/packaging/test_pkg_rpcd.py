"""The rpcd exec plugin (ubus object 'ikev2d'), run from the staging root as rpcd runs it.

The plugin's own decisions without rpcd or the daemon: its method list, which record status
picks, strict parsing of parameters. A process whose command line names ikev2d stands in for
the daemon only for the pid check. Through real rpcd, sessions, the ACL and the real daemon:
tests/router/test_rpcd.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest


def _call(staging: Path, run_dir: Path, *args: str, stdin: str = "{}", env=None) -> dict:
    plugin = staging / "usr/libexec/rpcd/ikev2d"
    full_env = {
        "PATH": os.environ["PATH"],
        "IKEV2D_RUN_DIR": str(run_dir),
        "IKEV2D_REFUSED": str(run_dir / "refused.json"),
        "IKEV2D_PYTHON": sys.executable,
        "IKEV2D_RPC_HELPER": str(staging / "usr/libexec/ikev2d/rpcd_call.py"),
        "IKEV2D_CONTROL_SOCKET": str(run_dir / "control.sock"),
        **(env or {}),
    }
    proc = subprocess.run(
        [str(plugin), *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=full_env,
        timeout=30,
        check=False,
    )
    assert "Traceback" not in proc.stderr + proc.stdout
    out = json.loads(proc.stdout)
    assert isinstance(out, dict)
    return out


@pytest.fixture
def run_dir(tmp_path) -> Path:
    d = tmp_path / "run"
    d.mkdir()
    return d


@pytest.fixture
def fake_daemon():
    """A live process whose /proc cmdline names ikev2d, like the launcher's python."""
    proc = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(60)", "/usr/lib/ikev2d", "--uci", "x"],
    )
    yield proc
    proc.kill()
    proc.wait(timeout=10)


def test_list_names_every_method_with_its_parameters(staging, run_dir):
    methods = _call(staging, run_dir, "list")
    assert methods == {
        "status": {},
        "clients": {},
        "disconnect": {"id": "str", "target": "str"},
        "reload": {},
        "check": {},
        "profile": {"platform": "str", "user": "str"},
    }


def test_status_without_snapshot_says_not_running(staging, run_dir):
    for method in ("status", "clients"):
        assert _call(staging, run_dir, "call", method) == {
            "running": False,
            "reason": "not_started",
            "clients": [],
        }


def test_status_of_a_dead_or_foreign_pid_says_not_running(staging, run_dir):
    dead = subprocess.Popen(["true"])
    dead.wait()
    foreign = subprocess.Popen(["sleep", "60"])
    try:
        for pid in (dead.pid, foreign.pid):  # gone; alive but not ikev2d
            snap = {"running": True, "pid": pid, "clients": [{"id": "x"}]}
            (run_dir / "status.json").write_text(json.dumps(snap))
            assert _call(staging, run_dir, "call", "status") == {
                "running": False,
                "reason": "exited",  # it ended without writing why
                "clients": [],
            }
    finally:
        foreign.kill()
        foreign.wait(timeout=10)


def test_status_says_why_the_server_does_not_run(staging, run_dir, fake_daemon):
    # the daemon's last words: it stopped, or could not start
    last = {"running": False, "pid": 999999999, "reason": "port_in_use", "detail": "x"}
    (run_dir / "status.json").write_text(json.dumps(last))
    assert _call(staging, run_dir, "call", "status") == last
    # the init script's record of a refused start comes first
    refused = {"running": False, "reason": "config_error", "problems": ["server.psk: ..."]}
    (run_dir / "refused.json").write_text(json.dumps(refused))
    assert _call(staging, run_dir, "call", "status") == refused
    # ... unless a daemon runs: it keeps its configuration when a reload is refused, and the
    # refusal rides along
    live = {"running": True, "pid": fake_daemon.pid, "clients": []}
    (run_dir / "status.json").write_text(json.dumps(live))
    assert _call(staging, run_dir, "call", "status") == {"refused": refused, **live}
    (run_dir / "refused.json").unlink()
    assert _call(staging, run_dir, "call", "status") == live


@pytest.mark.parametrize(
    ("method", "stdin", "error"),
    [
        ("disconnect", "{not json", "invalid JSON input"),
        ("disconnect", "[1, 2]", "arguments must be a JSON object"),
        ("disconnect", "{}", "missing parameter: id (a connection from status) or target"),
        ("disconnect", '{"target": 5}', "missing or empty string parameter: target"),
        ("disconnect", '{"id": ["x"]}', "missing or empty string parameter: id"),
        ("disconnect", '{"target": "a\\nb"}', "invalid parameter: target"),
        ("profile", '{"platform": 7}', "missing or empty string parameter: platform"),
        ("nosuch", "{}", "unknown method"),
    ],
)
def test_bad_input_gives_an_error_object(staging, run_dir, method, stdin, error):
    assert _call(staging, run_dir, "call", method, stdin=stdin) == {"ok": False, "error": error}


def test_oversized_input_is_refused(staging, run_dir):
    big = json.dumps({"target": "x" * 70000})
    assert _call(staging, run_dir, "call", "disconnect", stdin=big)["error"] == "input too large"


def test_write_methods_without_daemon(staging, run_dir):
    out = _call(staging, run_dir, "call", "reload")
    assert out == {"ok": False, "error": "ikev2d is not running"}


def test_check_reports_the_launchers_problems(staging, run_dir, tmp_path):
    fake = tmp_path / "ikev2d"
    fake.write_text(
        "#!/bin/sh\necho 'warning: full tunnel'\necho 'psk: must be set'\n"
        'echo "checked $2"\nexit 2\n'
    )
    fake.chmod(0o755)
    env = {
        "IKEV2D_LAUNCHER": str(fake),
        "IKEV2D_CONFIG": str(tmp_path / "ikev2d"),
        "IKEV2D_RPCD_DIR": str(tmp_path / "rpcd"),
    }
    out = _call(staging, run_dir, "call", "check", env=env)
    checked = f"checked {tmp_path / 'ikev2d'}"
    assert out == {
        "ok": True,
        "result": {
            "valid": False,
            "problems": ["psk: must be set", checked],
            "warnings": ["full tunnel"],
        },
    }
    # a session without saved changes (or a forged id) checks the file itself
    for session in ("0" * 32, "../../etc"):
        stdin = json.dumps({"ubus_rpc_session": session})
        out = _call(staging, run_dir, "call", "check", stdin=stdin, env=env)
        assert out["result"]["problems"][-1] == checked
