"""Test harness: network namespaces, veth links and strongSwan peers, all torn down by name/PID.

Plain library code (no pytest inside), used by tests/interop and tests/system.
"""

from .netns import Netns, NetnsSet, unique_prefix
from .proc import CommandFailed, ProcessTracker, run, wait_until

__all__ = [
    "CommandFailed",
    "Netns",
    "NetnsSet",
    "ProcessTracker",
    "run",
    "unique_prefix",
    "wait_until",
]
