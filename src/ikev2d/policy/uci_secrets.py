"""The secret options (the PSK, user passwords) in a UCI file of their own.

UCI's access control works per configuration file, not per option: whoever may read
/etc/config/ikev2d (a read-only LuCI user: luci-app-ikev2d's ACL grants its read part there)
reads every option in it. So the options the schema marks secret live in
/etc/config/ikev2d_secrets, which only the write part of the ACL reaches, in sections named
like the sections they belong to:

    config ikev2d 'server'               # /etc/config/ikev2d_secrets
        option psk '...'
    config user 'user_1a2b3c4d'          # the user section of that name in /etc/config/ikev2d
        option password '...'

Users are therefore named sections (LuCI names the ones it adds; the uci-defaults script
95-ikev2d-secrets names older ones and moves their secrets). A secret still found in
/etc/config/ikev2d is used, with a warning; where both files set one, ikev2d_secrets wins.
"""

from __future__ import annotations

import os

from ikev2d.policy.errors import ConfigError
from ikev2d.policy.schema import OPTIONS, SECTIONS
from ikev2d.policy.uci import UciPackage, load_uci_file

__all__ = ["SECRETS_CONFIG", "merge_secrets", "read_secrets", "secrets_path"]

SECRETS_CONFIG = "ikev2d_secrets"
_SECTION_BY_TYPE = {s.uci_type: s.name for s in SECTIONS}
_SECRETS = {s.name: {o.name for o in OPTIONS if o.section == s.name and o.secret} for s in SECTIONS}


def secrets_path(config_path: str) -> str:
    """The secrets file next to the configuration file."""
    return os.path.join(os.path.dirname(config_path) or ".", SECRETS_CONFIG)


def read_secrets(path: str) -> UciPackage | None:
    """The secrets file, or None when there is none (a configuration from before the split)."""
    if not os.path.exists(path):
        return None
    return load_uci_file(path)


def merge_secrets(pkg: UciPackage, secrets: UciPackage | None, warnings: list[str]) -> None:
    """Put each secret of `secrets` into the section of `pkg` it belongs to (in place)."""
    for section in pkg.sections:
        kind = _SECTION_BY_TYPE.get(section.type)
        if kind is None:
            continue
        for name in sorted(_SECRETS.get(kind, ()) & section.options.keys()):
            warnings.append(
                f"{pkg.path}: {section.label}.{name} can be read by read-only LuCI users: "
                f"keep it in {SECRETS_CONFIG} (in a section named like this one)"
            )
    if secrets is None:
        return
    for section in secrets.sections:
        where = f"{secrets.path}:{section.line}"
        kind = _SECTION_BY_TYPE.get(section.type)
        if kind is None or section.name is None:
            raise ConfigError(
                f"{where}: config {section.type}", section.label,
                f"sections of {pkg.path} by name: config ikev2d 'server', config user 'NAME'",
                "is not named like a section it holds secrets for",
            )  # fmt: skip
        target = pkg.get(section.name)
        if target is None or target.type != section.type:
            warnings.append(f"{where}: no config {section.type} '{section.name}' in {pkg.path}")
            continue
        for name, value in section.options.items():
            if name not in _SECRETS[kind]:
                raise ConfigError(
                    f"{where}: {section.name}.{name}", None,
                    ", ".join(sorted(_SECRETS[kind])) + f" (the rest belongs in {pkg.path})",
                    "is not a secret option", show_value=False,
                )  # fmt: skip
            target.options[name] = value
