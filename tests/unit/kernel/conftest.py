"""Fixtures of this folder; the helpers tests import are in a uniquely named module."""

from kernel_netns import netns  # noqa: F401 - fixtures are found by name
