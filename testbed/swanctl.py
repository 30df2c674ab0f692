"""swanctl.conf of a strongSwan phone: its connections and the secrets they use.

    conf = swanctl_conf([Conn("home", "phone1@example.test"),
                         Conn("eap", "carol", auth="eap-mschapv2", secret="...")])

A `Conn` is one connection and its CHILD_SA of the same name, towards the router of the
road-warrior world (testbed.topology). Secrets are written once per key and bound to the
identities that use it: an unbound PSK would compete with the bound ones (strongSwan picks a
secret by how well its identities match).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from .topology import LAN_NET, ROUTER_WAN

__all__ = ["PSK", "SERVER_ID", "Conn", "quoted", "swanctl_conf"]

PSK = "Tq8-vZ3k-Lw9p-Hx2m-Rb7c"  # strong enough for the daemon's check; only in namespaces
SERVER_ID = "vpn.example.test"


def quoted(text: str) -> str:
    """A swanctl string: any identity or secret, hostile ones included, stays one value."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


@dataclass(frozen=True)
class Conn:
    """One swanctl connection of a phone (and its CHILD_SA, same name).

    `auth`: psk, eap-mschapv2 (EAP identity = `local_id`) or pubkey (a certificate and key
    from swanctl/pkcs12/`p12`). `secret`: the PSK (default PSK), the EAP password or the
    PKCS#12 password. `remote_id` None sends no IDr. Lifecycle options: `ike_rekey` and
    `child_rekey` in seconds (0: strongSwan's defaults), `mobike`."""

    name: str
    local_id: str
    auth: str = "psk"
    secret: str | None = None
    p12: str | None = None
    remote_id: str | None = SERVER_ID
    remote_addrs: str = ROUTER_WAN
    local_addrs: str | None = None
    proposals: str = "aes256-sha256-modp2048"
    esp: str = "aes256-sha256"
    vips: str = "0.0.0.0"  # "0.0.0.0, ::" asks for both families
    remote_ts: str = LAN_NET
    local_ts: str = ""  # "": strongSwan's default (dynamic: its virtual IPs)
    fragmentation: bool = False
    mobike: bool = True
    ike_rekey: int = 0
    child_rekey: int = 0

    @property
    def remote_auth(self) -> str:
        return "psk" if self.auth == "psk" else "pubkey"

    def swanctl(self) -> str:
        return f"""  {self.name} {{
    version = 2
    remote_addrs = {self.remote_addrs}
{self._ike_options()}    local {{
{self._local()}    }}
    remote {{
      auth = {self.remote_auth}
{_line(6, "id", self.remote_id and quoted(self.remote_id))}    }}
    children {{
      {self.name} {{
        remote_ts = {self.remote_ts}
{_line(8, "local_ts", self.local_ts)}        esp_proposals = {self.esp}
{self._child_lifetimes()}      }}
    }}
  }}
"""

    def _ike_options(self) -> str:
        text = _line(4, "local_addrs", self.local_addrs) + _line(4, "vips", self.vips)
        text += _line(4, "proposals", self.proposals)
        text += _line(4, "fragmentation", "yes" if self.fragmentation else "")
        text += _line(4, "mobike", "" if self.mobike else "no")
        if self.ike_rekey:
            # lifetimes well past the rekey times: a rekey, never an expiry, replaces the SAs
            text += _line(4, "rekey_time", f"{self.ike_rekey}s")
            text += _line(4, "over_time", "30s") + _line(4, "rand_time", "0")
        return text

    def _local(self) -> str:
        text = _line(6, "auth", self.auth) + _line(6, "id", quoted(self.local_id))
        if self.auth == "eap-mschapv2":
            text += _line(6, "eap_id", quoted(self.local_id))
        return text

    def _child_lifetimes(self) -> str:
        if not self.child_rekey:
            return ""
        return (
            _line(8, "rekey_time", f"{self.child_rekey}s")
            + _line(8, "life_time", f"{self.child_rekey + 30}s")
            + _line(8, "rand_time", "0")
        )

    def secret_entry(self) -> tuple[str, str, str]:
        """(kind, what it is bound to, secret) of the swanctl secret this connection uses."""
        if self.auth == "psk":
            return "ike", self.local_id, self.secret or PSK
        if self.auth == "eap-mschapv2":
            return "eap", self.local_id, self.secret or ""
        return "pkcs12", self.p12 or "", self.secret or ""


def _line(indent: int, key: str, value: str | None) -> str:
    return f"{' ' * indent}{key} = {value}\n" if value else ""


def swanctl_conf(conns: Iterable[Conn]) -> str:
    """swanctl.conf with `conns` and the secrets they use: one PSK per key bound to the
    identities using it, one EAP secret per identity, one PKCS#12 file per certificate."""
    conns = list(conns)
    psk_owners: dict[str, list[str]] = {}
    others: dict[tuple[str, str], str] = {}
    for conn in conns:
        kind, owner, secret = conn.secret_entry()
        if kind == "ike":
            owners = psk_owners.setdefault(secret, [])
            if owner not in owners:
                owners.append(owner)
        else:
            others.setdefault((kind, owner), secret)
    secrets = []
    for n, (secret, owners) in enumerate(psk_owners.items()):
        ids = "".join(f"    id-{i} = {quoted(owner)}\n" for i, owner in enumerate(owners))
        secrets.append(f"  ike-{n} {{\n{ids}    secret = {quoted(secret)}\n  }}\n")
    for n, ((kind, owner), secret) in enumerate(others.items()):
        key = "id" if kind == "eap" else "file"
        secrets.append(
            f"  {kind}-{n} {{\n    {key} = {quoted(owner)}\n    secret = {quoted(secret)}\n  }}\n"
        )
    return (
        "connections {\n" + "".join(c.swanctl() for c in conns) + "}\n"
        "secrets {\n" + "".join(secrets) + "}\n"
    )
