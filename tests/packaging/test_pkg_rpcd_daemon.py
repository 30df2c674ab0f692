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
from pathlib import Path

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
    assert _call(staging, run, "call", "status") == {
        "running": False,
        "reason": "exited",
        "clients": [],
    }


def _run_daemon(staging, ns: str, config: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "IKEV2D_PYTHON": sys.executable}
    launcher = str(staging / "usr/sbin/ikev2d")
    return subprocess.run(
        ["ip", "netns", "exec", ns, launcher, *args, "--config", str(config)],
        env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


@pytest.fixture
def netns():
    ns = f"ikv2why-{uuid.uuid4().hex[:8]}"
    subprocess.run(["ip", "netns", "add", ns], check=True)
    subprocess.run(["ip", "-n", ns, "link", "set", "lo", "up"], check=True)
    try:
        yield ns
    finally:
        subprocess.run(["ip", "netns", "del", ns], check=False)


def _config(tmp_path: Path, run: Path, **extra: str) -> Path:
    config = tmp_path / "why.toml"
    lines = [f"{k} = {v}" for k, v in {"enabled": "true", **extra}.items()]
    config.write_text(
        "[server]\n"
        f'psk = "{PSK}"\nlisten = ["127.0.0.1"]\nlocal_subnet = ["192.168.1.0/24"]\n'
        f'control_socket = "{run}/control.sock"\nstate_dir = "{run}"\n' + "\n".join(lines) + "\n"
    )
    return config


def test_status_says_the_ports_are_taken(staging, tmp_path, netns):
    run = tmp_path / "run"
    taken = subprocess.Popen(  # another program on UDP 500 in the namespace
        ["ip", "netns", "exec", netns, sys.executable, "-c",
         "import socket, time; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); "
         "s.bind(('127.0.0.1', 500)); print('bound', flush=True); time.sleep(60)"],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert taken.stdout.readline().strip() == "bound"
        assert _run_daemon(staging, netns, _config(tmp_path, run)).returncode == 1
    finally:
        taken.kill()
        taken.wait(timeout=10)
    status = _call(staging, run, "call", "status")
    assert status["running"] is False and status["reason"] == "port_in_use"
    assert "127.0.0.1" in status["detail"]


def test_status_says_disabled_and_stopped(staging, tmp_path, netns):
    run = tmp_path / "run"
    assert _run_daemon(staging, netns, _config(tmp_path, run, enabled="false")).returncode == 0
    assert _call(staging, run, "call", "status")["reason"] == "disabled"
    env = {**os.environ, "IKEV2D_PYTHON": sys.executable}
    proc = subprocess.Popen(
        ["ip", "netns", "exec", netns, str(staging / "usr/sbin/ikev2d"),
         "--config", str(_config(tmp_path, run))], env=env,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 20
        while not _call(staging, run, "call", "status")["running"]:
            assert proc.poll() is None and time.monotonic() < deadline, "the daemon did not start"
            time.sleep(0.05)
    finally:
        proc.terminate()
        proc.wait(timeout=15)
    assert _call(staging, run, "call", "status")["reason"] == "stopped"


def test_a_refused_configuration_is_recorded_for_the_status(staging, tmp_path):
    """What the init script runs before starting: the problems become the status."""
    run = tmp_path / "run"
    refused = run / "refused.json"
    bad = _config(tmp_path, run, pool='"10.10.10.5/24"')
    env = {**os.environ, "IKEV2D_PYTHON": sys.executable}
    launcher = str(staging / "usr/sbin/ikev2d")
    check = [launcher, "--check", "--refused-status", str(refused), "--config"]
    assert subprocess.run([*check, str(bad)], env=env, check=False).returncode == 2
    status = _call(staging, run, "call", "status")
    assert status["reason"] == "config_error"
    assert status["problems"] == ["server.pool: '10.10.10.5/24' has host bits set (the network "
                                  "is 10.10.10.0/24) (allowed: an IPv4 network like "
                                  "10.10.10.0/24, prefix 8..30)"]  # fmt: skip
    good = _config(tmp_path, run)
    assert subprocess.run([*check, str(good)], env=env, check=False).returncode == 0
    assert not refused.exists()
    assert _call(staging, run, "call", "status")["reason"] == "not_started"
