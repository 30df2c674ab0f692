"""The rpcd plugin from the staging root against the REAL daemon, started from the same
staging root with its launcher, in a network namespace of this test (no clients: the host
kernel has no ESP, so the calls are those LuCI makes with nobody connected)."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
import time
import uuid

import pytest
from test_pkg_rpcd import _call

PSK = "correct horse battery staple 42"


@pytest.fixture
def daemon(staging, tmp_path):
    ns = f"ikv2rpc-{uuid.uuid4().hex[:8]}"
    subprocess.run(["ip", "netns", "add", ns], check=True)
    subprocess.run(["ip", "-n", ns, "link", "set", "lo", "up"], check=True)
    run = tmp_path / "run"
    config = tmp_path / "ikev2d.toml"
    config.write_text(
        "[server]\nenabled = true\n"
        f'psk = "{PSK}"\nserver_address = "vpn.example.test"\n'
        'listen = ["127.0.0.1"]\nlocal_subnet = ["192.168.1.0/24"]\n'
        f'control_socket = "{run}/control.sock"\nstate_dir = "{run}"\n'
        f'pki_dir = "{tmp_path}/pki"\n'
    )
    env = {**os.environ, "IKEV2D_PYTHON": sys.executable}
    proc = subprocess.Popen(
        ["ip", "netns", "exec", ns, str(staging / "usr/sbin/ikev2d"), "--config", str(config)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 20
        while not (run / "status.json").exists():
            assert proc.poll() is None, proc.stdout.read()
            assert time.monotonic() < deadline, "the daemon did not start"
            time.sleep(0.05)
        yield run
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        finally:
            if proc.poll() is None:
                proc.kill()
            subprocess.run(["ip", "netns", "del", ns], check=False)


def test_luci_calls_against_the_real_daemon(staging, daemon):
    status = _call(staging, daemon, "call", "status")
    assert status["running"] is True and status["clients"] == []
    assert _call(staging, daemon, "call", "clients")["clients"] == []
    refused = _call(staging, daemon, "call", "disconnect", stdin='{"target": "nobody"}')
    assert refused["ok"] is False and "nobody" in refused["error"]
    profile = _call(staging, daemon, "call", "profile", stdin='{"platform": "android"}')
    assert profile["ok"] is True
    card = base64.b64decode(profile["result"]["data"])
    assert b"vpn.example.test" in card and PSK.encode() in card


def test_status_says_not_running_once_the_daemon_is_gone(staging, tmp_path):
    run = tmp_path / "gone"
    run.mkdir()
    # what a killed daemon leaves: a snapshot naming a pid that no longer exists
    (run / "status.json").write_text('{"running": true, "pid": 999999999, "clients": []}')
    assert _call(staging, run, "call", "status") == {"running": False, "clients": []}
