"""Item 10: control_socket accepted any absolute path and start-up deleted whatever file was
there (`/etc/config/firewall` validated); temporary files were opened without O_EXCL and
O_NOFOLLOW, so a planted symlink redirected the status snapshot's write.

Now control_socket must lie inside state_dir, a non-socket at its path is never removed, and
temporary files are created exclusively, never through a symlink.
"""

from __future__ import annotations

import os

import pytest
from attack_support import config

from ikev2d.daemon.control import open_control_socket
from ikev2d.daemon.status import SNAPSHOT_NAME, write_snapshot
from ikev2d.pki_files import atomic_write
from ikev2d.policy.errors import ConfigError


def test_item10_control_socket_must_lie_inside_state_dir():
    with pytest.raises(ConfigError, match=r"server\.control_socket: '/etc/config/firewall'"):
        config(control_socket="/etc/config/firewall")
    with pytest.raises(ConfigError, match=r"server\.control_socket"):
        config(control_socket="/var/run/ikev2d/../../../etc/config/firewall")
    assert config(control_socket="/var/run/ikev2d/ctl.sock").control_socket.endswith("ctl.sock")


def test_item10_a_file_at_the_socket_path_is_never_removed(tmp_path):
    precious = tmp_path / "firewall"
    precious.write_text("config zone\n")
    with pytest.raises(OSError, match="not a socket"):
        open_control_socket(str(precious))
    assert precious.read_text() == "config zone\n"
    link = tmp_path / "link.sock"
    link.symlink_to(precious)
    with pytest.raises(OSError, match="not a socket"):
        open_control_socket(str(link))
    assert link.is_symlink() and precious.read_text() == "config zone\n"


def test_item10_temporary_files_never_follow_a_planted_symlink(tmp_path):
    victim = tmp_path / "shadow"
    victim.write_text("root:x:0:0\n")
    state = tmp_path / "state"
    state.mkdir()
    # the snapshot's temporary name is predictable: status.json.<pid>.tmp
    planted = state / f"{SNAPSHOT_NAME}.{os.getpid()}.tmp"
    planted.symlink_to(victim)
    write_snapshot(str(state), {"running": True, "pid": os.getpid()})
    assert victim.read_text() == "root:x:0:0\n"
    assert '"running": true' in (state / SNAPSHOT_NAME).read_text()
    # PKI files: a symlink at the target is replaced, never written through
    target = tmp_path / "server.key"
    target.symlink_to(victim)
    atomic_write(target, b"-----BEGIN PRIVATE KEY-----\n", 0o600)
    assert victim.read_text() == "root:x:0:0\n" and not target.is_symlink()
