"""Which established IKE SAs a new configuration no longer admits (reload keeps the rest)."""

from __future__ import annotations

import ipaddress

from ikev2d.crypto.auth import KEY_PAD  # noqa: F401 - documents that the PSK keys AUTH
from ikev2d.policy.config import ServerConfig

from .sa import IkeSa

__all__ = ["affected_by"]


def affected_by(sa: IkeSa, old: ServerConfig, new: ServerConfig) -> str | None:
    """Why `sa` must end under `new` (a short phrase), or None if it may stay."""
    if old.auth_mode != new.auth_mode:
        return "authentication mode"
    if old.auth_mode == "psk" and old.psk != new.psk:
        return "pre-shared key"
    if sa.identity is not None and not new.remote_id_accepted(sa.identity):
        return "remote identity"
    if sa.local_identity is not None and sa.local_identity not in new.server_identities(
        ipaddress.ip_address(sa.local[0])
    ):
        return "server identity"
    if sa.proposal.text not in {p.text for p in new.ike_proposal}:
        return f"IKE proposal {sa.proposal.text}"
    if new.post_quantum == "required" and not sa.additional_ke:
        return "post_quantum required"
    esp = {p.text for p in new.esp_proposal}
    if any(c.proposal.text not in esp for c in sa.children):
        return "ESP proposal"
    if tuple(old.local_subnet) != tuple(new.local_subnet) or tuple(old.dns) != tuple(new.dns):
        return "subnets or DNS given to clients"
    if old.pool != new.pool or old.pool6 != new.pool6:
        return "address pool"
    if old.child_lifetime != new.child_lifetime or old.ike_lifetime != new.ike_lifetime:
        return None  # new lifetimes apply from the next rekey
    return None
