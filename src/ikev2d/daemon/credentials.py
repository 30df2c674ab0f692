"""The server's certificate, key and CA for the responder, from the PKI directory.

With auth_mode eap or cert and an empty PKI directory, the CA and a server certificate naming
the server's identities (server_address, local_id, listen addresses) are created on the spot
(the router owner never runs a command); a certificate of that CA that lacks one of them (made
by an older version, or before the configuration changed) is reissued, an imported one only
reported. Whatever else is there is used as it is and never replaced: a server certificate
from an outside CA (ACME ...) without any CA key works for EAP, and ca.pem alone (no key) is
enough to accept client certificates. With auth_mode psk nothing is loaded: only PSK clients
are accepted then.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import datetime as dt

    from ikev2d.ike.credentials import Credentials
    from ikev2d.policy.config import ServerConfig

__all__ = ["load_credentials"]


def load_credentials(config: ServerConfig, log, now: float) -> Credentials | None:
    if config.auth_mode not in ("eap", "cert"):
        return None  # PSK only: x509 and pki_files stay unloaded

    import datetime as dt  # lazy: ~3 ms of a PSK daemon's start (UCI: nothing else loads it)

    from ikev2d.ike.credentials import Credentials
    from ikev2d.pki_files import PkiError, PkiStore  # lazy: ~1 MB and ~80 ms of imports

    store = PkiStore(config.pki_dir)
    names = config.certificate_names()
    when = dt.datetime.fromtimestamp(now, dt.UTC)
    try:
        if not store.placed():
            if not _create(store, config, names, when, log):
                return None
        else:
            _cover(store, names, when, log)
        chain, key = store.load_server()
        ca = store.load_ca_certificate()
        if ca is None and config.auth_mode == "cert":
            log.error(f"auth_mode cert needs the CA of the client certificates: no ca.pem in "
                      f"{config.pki_dir}; certificate clients cannot connect")  # fmt: skip
        return Credentials(tuple(chain), key, ca, store.revoked_serials())
    except (PkiError, OSError, ValueError) as e:
        log.error(f"cannot use the certificates in {config.pki_dir}: {e}")
        return None


def _create(store, config: ServerConfig, names: tuple[str, ...], when: dt.datetime, log) -> bool:
    """A new CA and server certificate in an empty PKI directory; False when impossible."""
    if not names:
        log.error(
            f"auth_mode {config.auth_mode} needs server_address (the name or address "
            "clients connect to) for the server certificate; EAP and certificate "
            "clients cannot connect"
        )
        return False
    store.init(list(names), "rsa2048", when)
    log.info(f"created the CA and a server certificate for {', '.join(names)} "
             f"in {config.pki_dir}; install ca.pem on the clients")  # fmt: skip
    return True


def _cover(store, names: tuple[str, ...], when: dt.datetime, log) -> None:
    """A server certificate that lacks one of the server's identities fails the clients
    asking for it: ours is reissued, an imported one is only reported."""
    reissued, missing = store.cover_names(names, when)
    if reissued:
        log.info(f"reissued the server certificate so that it names {', '.join(names)}")
    elif missing:
        log.warning(
            f"the imported server certificate does not name {', '.join(missing)}: clients "
            "expecting that identity refuse the server (import one that names it)"
        )
