"""`ikev2ctl` commands that work on the configuration and files, without a running daemon:
`profile` (client setup files), `pki` (the built-in CA) and `check` (is the configuration
valid, and which clients can connect with it).

    ikev2ctl [--config FILE.toml | --uci FILE] profile --platform ios --user alice
    ikev2ctl pki init --name vpn.example.org
    ikev2ctl check [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import sys

__all__ = ["OFFLINE_COMMANDS", "offline_main"]

OFFLINE_COMMANDS = {
    "profile": "write a client setup file (mobileconfig, PowerShell, .sswan, Android card)",
    "pki": "the built-in certificate authority: init, renew, issue, revoke, import, show",
    "check": "validate the configuration and show which clients it admits",
}
DEFAULT_UCI = "/etc/config/ikev2d"
EXIT_OK, EXIT_FAIL, EXIT_CONFIG = 0, 1, 2


def _load_config(args):
    from ikev2d.policy.config import load_toml, load_uci
    from ikev2d.policy.errors import ConfigError

    try:
        if args.config:
            return load_toml(args.config)
        path = args.uci or DEFAULT_UCI
        if not os.path.exists(path):
            print(f"ikev2ctl: no configuration at {path} (use --config or --uci)", file=sys.stderr)
            return None
        return load_uci(path, network_path=args.network)
    except ConfigError as e:
        print(str(e))
        return None


def _configured_pki_dir(args) -> str | None:
    """The configuration's pki_dir, the one the daemon and `profile` use, read alone: the CA
    comes before the rest of the configuration is finished. Without a configuration file on
    this machine: the option's default."""
    from ikev2d.policy.config import server_option
    from ikev2d.policy.errors import ConfigError

    uci = args.uci or (DEFAULT_UCI if os.path.exists(DEFAULT_UCI) else None)
    try:
        return str(server_option("pki_dir", uci=uci, toml=args.config))
    except ConfigError as e:
        print(str(e))
        return None


def _check(argv: list[str], config, pki_dir: str) -> int:
    from ikev2d.profiles import check_report, format_report
    from ikev2d.profiles.identities import certificate_state

    clients = check_report(config, certificate_state(config, pki_dir))
    report = {"valid": True, "warnings": list(config.warnings), "clients": clients}
    if "--json" in argv:
        print(json.dumps(report, indent=2))
        return EXIT_OK
    print("configuration OK")
    for warning in config.warnings:
        print(f"  warning: {warning}")
    print(format_report(report["clients"]))
    return EXIT_OK


def offline_main(argv: list[str]) -> int | None:
    """Run an offline command if `argv` names one (options before it allowed); else None."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config")
    common.add_argument("--uci")
    common.add_argument("--network", default="/etc/config/network")
    common.add_argument("--pki-dir")  # default: the configuration's pki_dir
    common.add_argument("--socket")
    args, rest = common.parse_known_args(argv)
    if not rest or rest[0] not in OFFLINE_COMMANDS:
        return None
    command, rest = rest[0], rest[1:]
    if command == "pki":
        from ikev2d.pki_files import pki_main

        pki_dir = args.pki_dir or _configured_pki_dir(args)
        if pki_dir is None:
            return EXIT_CONFIG
        return pki_main(["--dir", pki_dir, *rest] if "--dir" not in rest else rest)
    config = _load_config(args)
    if config is None:
        return EXIT_CONFIG
    if command == "check":
        return _check(rest, config, args.pki_dir or config.pki_dir)
    from ikev2d.profiles import profile_main

    return profile_main(rest, config, pki_dir=args.pki_dir or config.pki_dir)
