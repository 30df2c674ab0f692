"""The procd init script's decisions, run in dash with stand-ins for rc.common/procd/jshn.

The stand-ins log every procd/jshn call as one line; the test reads the log back into the
instance definition and the firewall rules fw4 would receive from 'service get_data'.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

STUBS = r"""
log() { printf '%s\n' "$*" >> "$LOG"; }
config_load() { :; }
# config_get VAR SECTION OPTION [DEFAULT] from CFG_<option> variables
config_get() { eval "_v=\${CFG_$3-}"; [ -n "$_v" ] || _v="$4"; eval "$1=\$_v"; }
config_get_bool() { config_get "$@"; }
logger() { while [ "$1" != "${1#-}" ]; do shift 2; done
	if [ $# -gt 0 ]; then log "LOGGER $*"; else while read -r l; do log "LOGGER $l"; done; fi; }
procd_open_instance() { log OPEN_INSTANCE; }
procd_set_param() { log "PARAM $*"; }
procd_close_instance() { log CLOSE_INSTANCE; }
procd_add_reload_trigger() { log "TRIGGER $*"; }
procd_running() { [ "$RUNNING" = 1 ]; }
procd_send_signal() { log "SIGNAL $*"; }
procd_kill() { log "KILL $*"; }
json_add_array() { log "ARRAY $1"; }
json_close_array() { log "END_ARRAY"; }
json_add_object() { log "OBJECT"; }
json_close_object() { log "END_OBJECT"; }
json_add_string() { log "STR $1=$2"; }
fw4() { echo "$FW4_ZONE"; }
# rc.common for USE_PROCD: start = start_service, then the service's data
start() { log START; start_service; service_data; }
stop() { log STOP; }
"""


def run_init(tmp_path: Path, ikev2d_ipk, action: str, *, cfg=None, check_rc=0, running=0):
    init = tmp_path / "ikev2d.init"
    init.write_bytes(ikev2d_ipk.file("/etc/init.d/ikev2d"))
    prog = tmp_path / "fake-ikev2d"
    prog.write_text(
        f'#!/bin/sh\necho "$@" >> {tmp_path}/prog-args\n'
        f"[ {check_rc} = 0 ] || echo 'psk: must be set'\nexit {check_rc}\n"
    )
    prog.chmod(0o755)
    log = tmp_path / "log"
    log.write_text("")
    cfg = {"enabled": "1", **(cfg or {})}
    env_lines = "".join(f"CFG_{k}='{v}'\n" for k, v in cfg.items())
    script = (
        STUBS
        + env_lines
        + f". {init}\nPROG={prog}\nREFUSED={tmp_path}/run/refused.json\n"
        + {"start": "start", "reload": "reload_service"}[action]
        + "\n"
    )
    subprocess.run(
        ["dash", "-c", script],
        env={"LOG": str(log), "RUNNING": str(running), "FW4_ZONE": "wan", "PATH": "/usr/bin:/bin"},
        check=False,
        timeout=30,
    )
    return log.read_text().splitlines()


def fw_rules(log: list[str]) -> list[dict[str, str]]:
    rules, current = [], None
    for line in log:
        if line == "OBJECT":
            current = {}
        elif line == "END_OBJECT":
            rules.append(current)
            current = None
        elif line.startswith("STR ") and current is not None:
            key, _, value = line[4:].partition("=")
            current[key] = value
    return rules


def test_disabled_service_starts_nothing_and_opens_nothing(tmp_path, ikev2d_ipk):
    log = run_init(tmp_path, ikev2d_ipk, "start", cfg={"enabled": "0"})
    assert "OPEN_INSTANCE" not in log and not fw_rules(log)
    assert any("not starting: disabled" in line for line in log)
    assert not (tmp_path / "prog-args").exists()  # no Python started for nothing
    # why, for the status page (the rpcd plugin reads it)
    assert json.loads((tmp_path / "run/refused.json").read_text())["reason"] == "disabled"


def test_failed_check_is_logged_and_nothing_starts(tmp_path, ikev2d_ipk):
    log = run_init(tmp_path, ikev2d_ipk, "start", check_rc=2)
    assert "OPEN_INSTANCE" not in log and not fw_rules(log)
    assert "LOGGER psk: must be set" in log
    args = (tmp_path / "prog-args").read_text().split()
    refused = f"{tmp_path}/run/refused.json"  # the daemon's check records why, for the status
    assert args == ["--uci", "/etc/config/ikev2d", "--check", "--refused-status", refused]


def test_enabled_service_runs_the_daemon_under_procd(tmp_path, ikev2d_ipk):
    log = run_init(tmp_path, ikev2d_ipk, "start")
    params = [line for line in log if line.startswith("PARAM ")]
    assert any(p.endswith("/fake-ikev2d --uci /etc/config/ikev2d") for p in params)
    assert "PARAM stdout 1" in params and "PARAM stderr 1" in params
    assert any(p.startswith("PARAM respawn") for p in params)
    assert not any(p.startswith("PARAM file") for p in params)  # would restart on reload


@pytest.mark.parametrize("masquerade", ["1", "0"])
def test_firewall_rules_follow_the_config(tmp_path, ikev2d_ipk, masquerade):
    cfg = {"pool": "10.20.30.0/24", "port": "500", "natt_port": "4500", "masquerade": masquerade}
    rules = fw_rules(run_init(tmp_path, ikev2d_ipk, "start", cfg=cfg))
    inputs = [r for r in rules if r["type"] == "rule" and "dest" not in r]
    assert {(r["proto"], r.get("dest_port")) for r in inputs} == {
        ("udp", "500"),
        ("udp", "4500"),
        ("esp", None),
        ("tcp udp", "53"),
    }
    assert all(r["src"] == "wan" and r["target"] == "ACCEPT" for r in rules if r["type"] == "rule")
    forwards = {r["dest"] for r in rules if r["type"] == "rule" and "dest" in r}
    nats = {(r.get("src_ip"), r.get("dest_ip"), r["target"]) for r in rules if r["type"] == "nat"}
    assert "10.20.30.0/24" in {r.get("src_ip") for r in rules if r.get("dest") == "lan"}
    assert (None, "10.20.30.0/24", "ACCEPT") in nats
    if masquerade == "1":
        assert forwards == {"lan", "wan"}
        assert ("10.20.30.0/24", None, "MASQUERADE") in nats
    else:
        assert forwards == {"lan"}
        assert all(t != "MASQUERADE" for _, _, t in nats)


def test_reload_signals_a_running_daemon(tmp_path, ikev2d_ipk):
    log = run_init(tmp_path, ikev2d_ipk, "reload", running=1)
    assert "START" in log and "SIGNAL ikev2d * HUP" in log
    assert log.index("START") < log.index("SIGNAL ikev2d * HUP")


def test_reload_starts_a_stopped_daemon_without_signal(tmp_path, ikev2d_ipk):
    log = run_init(tmp_path, ikev2d_ipk, "reload", running=0)
    assert "START" in log and not any(line.startswith("SIGNAL") for line in log)
    assert log.count("OPEN_INSTANCE") == 1
    assert len((tmp_path / "prog-args").read_text().splitlines()) == 1  # checked once


def test_reload_with_a_broken_config_keeps_the_running_daemon(tmp_path, ikev2d_ipk):
    log = run_init(tmp_path, ikev2d_ipk, "reload", running=1, check_rc=2)
    assert "START" not in log and "STOP" not in log
    assert not any(line.startswith(("SIGNAL", "KILL")) for line in log)
    assert any("reload refused" in line for line in log)


def test_reload_when_disabled_stops(tmp_path, ikev2d_ipk):
    log = run_init(tmp_path, ikev2d_ipk, "reload", running=1, cfg={"enabled": "0"})
    assert "STOP" in log and "START" not in log


def test_config_changes_trigger_reload(ikev2d_ipk):
    init = ikev2d_ipk.file("/etc/init.d/ikev2d").decode()
    assert "procd_add_reload_trigger ikev2d" in init and "USE_PROCD=1" in init
