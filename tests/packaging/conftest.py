"""Fixtures of this folder; the helpers tests import are in a uniquely named module."""

from pkg_support import (  # noqa: F401 - fixtures are found by name
    builder,
    built,
    ikev2d_ipk,
    luci_ipk,
    staging,
)
