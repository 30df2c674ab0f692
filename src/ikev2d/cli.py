"""Command lines: ``ikev2d`` (the daemon) and ``ikev2ctl`` (talks to its control socket).

Both keep their imports lazy: ``ikev2ctl status`` needs json and socket only, ``ikev2d
--check`` never touches the kernel, and the daemon's usual command line (procd's) is read
without argparse.
"""

from __future__ import annotations

import errno
import json
import os
import sys
import time
from types import SimpleNamespace
from typing import TYPE_CHECKING

from ikev2d import __version__
from ikev2d.compat import printable
from ikev2d.control_client import DEFAULT_SOCKET, ControlError, NotRunning, call

if TYPE_CHECKING:
    import argparse

    from ikev2d.policy.config import ServerConfig

__all__ = ["ctl_main", "daemon_main", "format_bytes", "format_status"]

DEFAULT_UCI = "/etc/config/ikev2d"
EXIT_OK, EXIT_FAIL, EXIT_CONFIG = 0, 1, 2

_DAEMON_EPILOG = """\
exit status:
  0  stopped cleanly (or --check: the configuration is valid; or disabled by enabled=0)
  1  could not run: sockets, kernel XFRM access, another ikev2d already running
  2  the configuration is invalid (one line names the option, the value and what is allowed)
"""

_CTL_EPILOG = """\
exit status:
  0  done
  1  ikev2d is not running, or it refused the request (the reason is printed)
  2  usage error; for 'check': the configuration is invalid
"""


def _help_formatter() -> type[argparse.HelpFormatter]:
    """argparse builds a formatter for every add_argument and, without a width, asks
    shutil.get_terminal_size, importing shutil (and zlib, bz2, lzma: ~0.4 MB of the daemon's
    RSS). The same width (COLUMNS, else the terminal's, else 80; minus 2), without shutil."""
    import argparse

    class HelpFormatter(argparse.RawDescriptionHelpFormatter):
        def __init__(self, prog: str, width: int | None = None, **kwargs) -> None:
            if width is None:
                width = _terminal_columns() - 2
            super().__init__(prog, width=width, **kwargs)

    return HelpFormatter


def _terminal_columns() -> int:
    try:
        return int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        pass
    try:
        return os.get_terminal_size(sys.__stdout__.fileno()).columns or 80
    except (AttributeError, ValueError, OSError):
        return 80


# -- ikev2d --------------------------------------------------------------------------------------
# The daemon's options as _daemon_parser() defines them: destination and default. procd starts
# the daemon with a few of them at every boot; _plain_daemon_args() reads such a command line
# without argparse and gettext (~0.4 MB of the daemon's RSS, ~2 ms of its start).
_DAEMON_VALUES = {
    "--config": ("config", None),
    "--uci": ("uci", None),
    "--network": ("network", "/etc/config/network"),
    "--refused-status": ("refused_status", None),
    "--save-keys": ("save_keys", None),
}
_DAEMON_SWITCHES = {
    "--check": "check",
    "--firewall": "firewall",
    "--syslog": "syslog",
    "--foreground": "foreground",
}


def _daemon_args(argv: list[str] | None) -> argparse.Namespace | SimpleNamespace:
    argv = sys.argv[1:] if argv is None else list(argv)
    args = _plain_daemon_args(argv)
    return _daemon_parser().parse_args(argv) if args is None else args


def _plain_daemon_args(argv: list[str]) -> SimpleNamespace | None:
    """What argparse makes of a command line of whole options, each given once, with plain
    values; None for anything else (help, version, abbreviations, --opt=value, mistakes:
    argparse reads those, with its messages)."""
    args = {dest: default for dest, default in _DAEMON_VALUES.values()}
    args.update({dest: False for dest in _DAEMON_SWITCHES.values()})
    seen: set[str] = set()
    tokens = iter(argv)
    for token in tokens:
        if token in seen:
            return None
        seen.add(token)
        if token in _DAEMON_SWITCHES:
            args[_DAEMON_SWITCHES[token]] = True
        elif token in _DAEMON_VALUES:
            value = next(tokens, None)
            if value is None or value.startswith("-"):
                return None
            args[_DAEMON_VALUES[token][0]] = value
        else:
            return None
    if {"--config", "--uci"} <= seen:
        return None  # mutually exclusive: argparse says so
    return SimpleNamespace(**args)


def _daemon_parser() -> argparse.ArgumentParser:
    import argparse

    p = argparse.ArgumentParser(
        prog="ikev2d",
        description="IKEv2/IPsec remote-access VPN server (ESP in the kernel via XFRM).",
        epilog=_DAEMON_EPILOG,
        formatter_class=_help_formatter(),
    )
    src = p.add_mutually_exclusive_group()
    src.add_argument("--config", metavar="FILE.toml", help="configuration in TOML")
    src.add_argument(
        "--uci", metavar="FILE", help=f"configuration in UCI format (default: {DEFAULT_UCI})"
    )
    p.add_argument(
        "--network",
        metavar="FILE",
        default="/etc/config/network",
        help="UCI network config for LAN defaults (with --uci; default: %(default)s)",
    )
    p.add_argument("--check", action="store_true", help="validate the configuration and exit")
    p.add_argument(
        "--refused-status",
        metavar="FILE",
        help="with --check: write to FILE why the server does not run (the status LuCI shows) "
        "when the configuration is refused, remove FILE when it is valid (the init script)",
    )
    p.add_argument(
        "--firewall",
        action="store_true",
        help="with --check: also print 'firewall: NAME VALUE' lines of what the init script "
        "needs, defaults applied: the firewall's openings (wan_interface, port, natt_port, "
        "pool, pool6, masquerade, masquerade6) and 'restart', the options a running daemon "
        "cannot change",
    )
    p.add_argument("--syslog", action="store_true", help="log to syslog instead of stderr")
    p.add_argument(
        "--foreground",
        action="store_true",
        help="stay in the foreground (always the case: procd supervises the process)",
    )
    p.add_argument(
        "--save-keys",
        metavar="DIR",
        help="DEBUGGING ONLY: write every IKE and ESP key to DIR/ikev2_decryption_table and "
        "DIR/esp_sa (Wireshark's format); anyone reading them can decrypt captured traffic",
    )
    p.add_argument("--version", action="version", version=f"ikev2d {__version__}")
    return p


def _config_loader(args):
    """A function reading the chosen configuration (called again on reload), or None."""
    from ikev2d.policy.config import check_supported, load_toml, load_uci

    if args.config:
        path = args.config

        def load():
            config = load_toml(path)
            check_supported(config)
            return config

    else:
        path = args.uci or (DEFAULT_UCI if os.path.exists(DEFAULT_UCI) else None)
        if path is None:
            return None, None

        def load():
            config = load_uci(path, network_path=args.network)
            check_supported(config)
            return config

    return load, path


def daemon_main(argv: list[str] | None = None) -> int:
    args = _daemon_args(argv)
    from ikev2d.policy.errors import ConfigError

    load, path = _config_loader(args)
    if load is None:
        print(
            f"ikev2d: no configuration: give --config FILE.toml or --uci FILE ({DEFAULT_UCI}"
            " does not exist)",
            file=sys.stderr,
        )
        return EXIT_CONFIG
    try:
        config = load()
    except ConfigError as exc:
        print(str(exc), file=sys.stdout if args.check else sys.stderr)
        if args.check and args.refused_status:
            _record_refusal(args.refused_status, exc.problems)
        return EXIT_CONFIG
    if args.check:
        for warning in (*config.warnings, *_runtime_warnings(config)):
            print(f"warning: {warning}")
        if args.firewall:
            for name, value in firewall_settings(config):
                print(f"firewall: {name} {value}")
        print(f"configuration OK: {path}", file=sys.stderr)
        if args.refused_status:
            _record_refusal(args.refused_status, None)
        return EXIT_OK
    return _serve(config, load, path, args)


def firewall_settings(config: ServerConfig) -> list[tuple[str, str]]:
    """What the init script needs of the validated model, defaults applied, so it keeps no
    copy of them: the firewall's openings (pool6 'off' without IPv6 inside; masquerade6:
    client IPv6 masqueraded) and ``restart``, the options a running daemon cannot change in
    one word (the init script restarts it when that word changes)."""
    from ikev2d.daemon.reload import RESTART_OPTIONS

    def text(value: object) -> str:
        return ",".join(map(str, value)) if isinstance(value, tuple) else str(value)

    pool6 = config.pool6
    return [
        ("wan_interface", config.wan_interface),
        ("port", str(config.port)),
        ("natt_port", str(config.natt_port)),
        ("pool", str(config.pool)),
        ("pool6", str(pool6) if pool6 else "off"),
        ("masquerade", "1" if config.masquerade else "0"),
        ("masquerade6", "1" if config.masquerade6 else "0"),
        ("restart", " ".join(f"{n}={text(getattr(config, n))}" for n in RESTART_OPTIONS)),
    ]


def _runtime_warnings(config) -> list[str]:
    """What this installation cannot do of a valid configuration (--check only: it loads
    cryptography, which the daemon does not before its first client)."""
    from ikev2d.profiles.check import post_quantum_report

    warning = post_quantum_report(config)["warning"]
    return [warning] if warning else []


def _record_refusal(path: str, problems: list[str] | None) -> None:
    """The init script's record of a refused configuration (None: it is valid now)."""
    from ikev2d.daemon.status import stopped_view, write_status

    try:
        if problems is None:
            os.unlink(path)
        else:
            write_status(path, stopped_view("config_error", problems=problems))
    except FileNotFoundError:
        pass
    except OSError as exc:
        print(f"ikev2d: cannot write {path}: {exc}", file=sys.stderr)


def _record_stopped(config, log, reason: str, detail: str = "") -> None:
    """Why this server does not run, in its status snapshot (LuCI's Status page shows it)."""
    from ikev2d.daemon.status import stopped_view, write_snapshot

    try:
        write_snapshot(config.state_dir, stopped_view(reason, detail))
    except OSError as exc:
        log.error(f"cannot write the status snapshot: {exc}")


def _serve(config, load, path: str, args) -> int:
    from ikev2d.compat import Logger

    log = Logger(config.log_level, syslog=args.syslog)
    for warning in config.warnings:
        log.warning(warning)
    if not config.enabled:
        log.info(f"disabled in {path} (enabled is off): not starting")
        _record_stopped(config, log, "disabled")
        return EXIT_OK
    from ikev2d.daemon.datapath import open_kernel_datapath
    from ikev2d.daemon.loop import Daemon
    from ikev2d.daemon.randomness import RandomPool

    rng = RandomPool()  # one pool for the IKE core and the datapath's SPIs
    try:
        datapath = open_kernel_datapath(rng)
    except OSError as exc:
        log.error(f"cannot open the kernel's XFRM interface: {exc}")
        detail = f"cannot open the kernel's XFRM interface: {exc}"
        _record_stopped(config, log, "no_kernel_support", detail)
        return EXIT_FAIL
    daemon = Daemon(
        config, datapath=datapath, load_config=load, log=log, rng=rng, save_keys=args.save_keys
    )
    try:
        daemon.start()
    except OSError as exc:
        log.error(f"cannot start: {exc}")
        daemon.close()
        reason = "port_in_use" if exc.errno == errno.EADDRINUSE else "start_failed"
        _record_stopped(config, log, reason, f"cannot start: {exc}")
        return EXIT_FAIL
    daemon.install_signal_handlers()
    daemon.run()
    log.info("stopped")
    return EXIT_OK


# -- ikev2ctl ------------------------------------------------------------------------------------
def _ctl_parser() -> argparse.ArgumentParser:
    import argparse

    p = argparse.ArgumentParser(
        prog="ikev2ctl",
        description="Show and control a running ikev2d.",
        epilog=_CTL_EPILOG,
        formatter_class=_help_formatter(),
    )
    p.add_argument(
        "--socket",
        help=f"control socket (default: the one {DEFAULT_UCI} configures, {DEFAULT_SOCKET} "
        "unless state_dir or control_socket say otherwise)",
    )
    p.add_argument(
        "--save-keys",
        metavar="DIR",
        help="DEBUGGING ONLY: write every IKE and ESP key to DIR/ikev2_decryption_table and "
        "DIR/esp_sa (Wireshark's format); anyone reading them can decrypt captured traffic",
    )
    p.add_argument("--version", action="version", version=f"ikev2ctl {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, text in (
        ("status", "server state, connected clients, recent failures"),
        ("clients", "connected clients only"),
        ("check", "validate the configuration file as it is on disk"),
    ):
        sp = sub.add_parser(name, help=text)
        sp.add_argument("--json", action="store_true", help="print JSON")
    from ikev2d.offline import OFFLINE_COMMANDS

    for name, text in OFFLINE_COMMANDS.items():
        if name != "check":
            sub.add_parser(name, help=text, add_help=False)
    sp = sub.add_parser("disconnect", help="delete a client's IKE SA and tunnel")
    which = sp.add_mutually_exclusive_group(required=True)
    which.add_argument("target", nargs="?", help="every connection of this identity or virtual IP")
    which.add_argument("--id", help="the one connection with this ID (from status)")
    sub.add_parser("reload", help="re-read the configuration")
    return p


def ctl_main(argv: list[str] | None = None) -> int:
    from ikev2d.offline import offline_main

    argv = sys.argv[1:] if argv is None else list(argv)
    done = offline_main(argv)  # profile, pki, check: they read files, not the daemon
    if done is not None:
        return done
    args = _ctl_parser().parse_args(argv)
    message = {"cmd": args.command}
    if args.command == "disconnect":
        message.update({"id": args.id} if args.id else {"target": args.target})
    try:
        result = call(args.socket or _configured_socket(), message)
    except NotRunning as exc:
        print(f"ikev2ctl: {exc} (no control socket at {exc.path})", file=sys.stderr)
        return EXIT_FAIL
    except ControlError as exc:  # the daemon's refusal, or no valid answer
        print(f"ikev2ctl: {exc}", file=sys.stderr)
        return EXIT_FAIL
    if getattr(args, "json", False):
        print(json.dumps(result, indent=2))
    else:
        print(_HUMAN[args.command](result))
    if args.command == "check" and not (isinstance(result, dict) and result.get("valid")):
        return EXIT_CONFIG
    return EXIT_OK


def _configured_socket() -> str:
    from ikev2d.policy.config import configured_control_socket

    return configured_control_socket(DEFAULT_UCI)


# -- human output --------------------------------------------------------------------------------
def format_bytes(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)  # not reached


def _duration(seconds: int) -> str:
    days, rest = divmod(max(int(seconds), 0), 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h{minutes:02d}m"
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s"


def _table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> str:
    widths = [max(len(r[i]) for r in (header, *rows)) for i in range(len(header))]
    lines = [
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
        for row in (header, *rows)
    ]
    return "\n".join(lines)


def _clients_table(clients: list[dict]) -> str:
    if not clients:
        return "no clients connected"
    rows = []
    for c in clients:
        algorithms = " / ".join(a for a in (c.get("ike"), c.get("esp")) if a)
        rows.append(
            (
                str(c.get("id", "-")),
                printable(str(c.get("identity"))),
                str(c.get("virtual_ip") or "-"),
                printable(str(c.get("remote"))),
                "yes" if c.get("nat") else "no",
                time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(c.get("since", 0))),
                format_bytes(int(c.get("bytes_in", 0))),
                format_bytes(int(c.get("bytes_out", 0))),
                algorithms,
            )
        )
    header = ("ID", "IDENTITY", "VIRTUAL IP", "FROM", "NAT", "SINCE", "IN", "OUT", "ALGORITHMS")
    return _table(header, rows)


def format_status(status: dict) -> str:
    listen = ", ".join(status.get("listen", [])) or "nothing"
    lines = [
        f"ikev2d running (pid {status.get('pid')}), up {_duration(status.get('uptime', 0))}, "
        f"listening on {listen}",
        "",
        _clients_table(status.get("clients", [])),
    ]
    failures = status.get("failures") or []
    if failures:
        lines += ["", "recent failed attempts:"]
        for f in failures[-10:]:
            when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(f.get("time", 0)))
            who = f" {f['identity']}" if f.get("identity") else ""
            lines.append(printable(f"  {when}  {f.get('remote')}{who}: {f.get('reason')}"))
    return "\n".join(lines)


def _format_check(result: dict) -> str:
    lines = ["configuration OK" if result.get("valid") else "configuration INVALID"]
    lines += [f"  problem: {p}" for p in result.get("problems", [])]
    lines += [f"  warning: {w}" for w in result.get("warnings", [])]
    return "\n".join(lines)


_HUMAN = {
    "status": format_status,
    "clients": _clients_table,
    "disconnect": lambda r: "disconnected: " + ", ".join(printable(n) for n in r["disconnected"]),
    "reload": lambda r: str(r.get("message")),
    "check": _format_check,
}
