"""Which established IKE SAs a new configuration no longer admits (reload keeps the rest).

A session ends exactly when what let it in no longer would: its method is no longer the one
accepted, its PSK changed, its EAP user is gone, disabled or has a new password or address,
or the tunnel it was given (proposals, subnets, DNS, pool, server identity) changed.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import TYPE_CHECKING

from ikev2d.policy.config import ServerConfig
from ikev2d.policy.pool import AddressPool, PoolError

if TYPE_CHECKING:
    from .credentials import Credentials
    from .sa import IkeSa

__all__ = ["affected_by", "carry_lease", "no_longer_trusted"]


def affected_by(sa: IkeSa, old: ServerConfig, new: ServerConfig) -> str | None:
    """Why `sa` must end under `new` (a short phrase), or None if it may stay."""
    reason = _credentials_changed(sa, old, new)
    if reason is not None:
        return reason
    if sa.client.identity is not None and not new.remote_id_accepted(sa.client.identity):
        return "remote identity"
    if (
        sa.client.local_identity is not None
        and sa.client.local_identity not in new.server_identities(ipaddress.ip_address(sa.local[0]))
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
    return None  # new lifetimes, DPD and limits apply from the next rekey or check


def _credentials_changed(sa: IkeSa, old: ServerConfig, new: ServerConfig) -> str | None:
    """Why the client's authentication would not succeed under `new` (certificates are
    checked against the new credentials by Responder.update_credentials)."""
    method = sa.client.auth_method
    if method != new.auth_mode:
        return f"authentication by {method} no longer accepted (auth_mode {new.auth_mode})"
    if method == "psk" and old.psk != new.psk:
        return "pre-shared key changed"
    if method == "eap":
        before, after = old.find_user(sa.client.user or ""), new.find_user(sa.client.user or "")
        if after is None:
            return f"user {sa.client.user} removed"
        if not after.enabled:
            return f"user {sa.client.user} disabled"
        if before is None or before.password != after.password:
            return f"password of {sa.client.user} changed"
        if before.ip != after.ip:
            return f"fixed address of {sa.client.user} changed"
    return None


def carry_lease(sa: IkeSa, pool: AddressPool) -> str | None:
    """Lease the SA's address again in the new `pool` under the key it was leased with at
    connect; why it cannot keep it, or None."""
    if sa.client.virtual_ip is None:
        return None
    try:
        address = str(pool.lease(sa.client.lease_key, sa.client.virtual_ip))
    except (PoolError, ValueError) as e:
        return f"address {sa.client.virtual_ip} not available: {e}"
    if address != sa.client.virtual_ip:  # e.g. a fixed address changed: the new one stays free
        pool.release(address)
        return "address changed"
    return None


def no_longer_trusted(
    sas: Iterable[IkeSa], old: Credentials | None, new: Credentials | None
) -> list[IkeSa]:
    """The certificate clients whose certificate does not validate under `new` (revoked, or
    another CA)."""
    old_ca = old.ca if old is not None else None
    ca = new.ca if new is not None else None
    revoked = new.revoked if new is not None else frozenset()
    return [
        sa for sa in sas
        if sa.client.cert_serial is not None
        and (ca is None or ca != old_ca or sa.client.cert_serial in revoked)
    ]  # fmt: skip
