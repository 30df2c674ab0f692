"""Fixtures of this folder; the helpers tests import are in a uniquely named module."""

from daemon_support import (  # noqa: F401 - fixtures are found by name
    datapath,
    start_daemon,
)
