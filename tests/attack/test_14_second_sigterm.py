"""Item 14: at shutdown a second SIGTERM hit the closed signal wake-up descriptor.

procd sends SIGTERM and may send it again while the daemon stops; after the loop had closed
its wake-up socket, Python's C signal handler still wrote to that descriptor number ("Exception
ignored when trying to write to the signal wakeup fd", a traceback in the log) - or into
whatever file had been opened with that number since.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]

DAEMON = f"""
import os, signal, sys, time
sys.path[:0] = [{str(TESTS / "unit" / "daemon")!r}, {str(TESTS)!r}]
from ikev2d.daemon.memory_datapath import MemoryDatapath
from daemon_support import server_table
from pathlib import Path
from ikev2d.compat import Logger
from ikev2d.daemon.loop import Daemon
from ikev2d.policy.config import from_mapping

config = from_mapping({{"server": server_table(Path(sys.argv[1]))}})
daemon = Daemon(config, datapath=MemoryDatapath(), log=Logger("info", stream=sys.stderr))
daemon.start()
daemon.install_signal_handlers()
os.kill(os.getpid(), signal.SIGTERM)  # what procd does to stop it
daemon.run()
reused = open(os.devnull, "wb")  # a new file may get the wake-up socket's number
os.kill(os.getpid(), signal.SIGTERM)  # ... and again while the process ends
time.sleep(0.2)
print("exited cleanly", flush=True)
"""


def test_item14_a_second_sigterm_at_shutdown_is_harmless(tmp_path):
    out = subprocess.run(
        [sys.executable, "-c", DAEMON, str(tmp_path)], capture_output=True, text=True, timeout=60
    )
    assert out.returncode in (0, -signal.SIGTERM), out.stderr
    assert "Exception ignored" not in out.stderr and "Traceback" not in out.stderr, out.stderr
    assert "stopping: deleting all IKE SAs" in out.stderr
