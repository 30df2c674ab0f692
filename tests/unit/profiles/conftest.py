"""Fixtures of this folder; the helpers tests import are in a uniquely named module."""

from profiles_support import (  # noqa: F401 - fixtures are found by name
    ca_pem,
    eap_config,
    psk_config,
)
