"""The test bed: network namespaces, strongSwan peers, our daemon in a namespace, OpenWrt's
userland, and the one road-warrior world built from them (testbed.world), all torn down by
name and PID.

Plain library code (no pytest inside), shared by the tests, the benchmarks (bench/) and
`make demo`; installed editable into the development venvs (scripts/setup.sh), never shipped.
"""

from .netns import Netns, NetnsSet, unique_prefix
from .proc import CommandFailed, ProcessTracker, run, wait_for, wait_until

__all__ = [
    "CommandFailed",
    "Netns",
    "NetnsSet",
    "ProcessTracker",
    "run",
    "unique_prefix",
    "wait_for",
    "wait_until",
]
