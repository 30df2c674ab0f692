#!/usr/bin/env python3
"""The ubus methods of the rpcd plugin that act on the daemon (all but status/clients).

Run by /usr/libexec/rpcd/ikev2d as ``rpcd_call.py METHOD`` with the ubus arguments as JSON on
stdin (rpcd's exec protocol). Prints exactly one JSON object and exits 0 whatever happens:
``{"ok": true, "result": ...}`` or ``{"ok": false, "error": "..."}`` -- a caller never sees
a traceback. Parameters are checked here and travel only as JSON (to the control socket) or
as separate argv items, never through a shell.

The control socket is spoken by the installed package's client (ikev2d.control_client, the
one ikev2ctl uses), from <root>/usr/lib/ikev2d beside this file's <root>/usr/libexec: a
staging root runs its own copy. Standard library otherwise (python3-light).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile

__all__ = ["main"]

# the package's code: <root>/usr/lib/ikev2d for this file's <root>/usr/libexec/ikev2d
PACKAGE = os.path.abspath(__file__).rpartition("/usr/libexec/")[0] + "/usr/lib/ikev2d"
CONTROL_SOCKET = os.environ.get("IKEV2D_CONTROL_SOCKET")  # else the one CONFIG configures
LAUNCHER = os.environ.get("IKEV2D_LAUNCHER", "/usr/sbin/ikev2d")
CONFIG = os.environ.get("IKEV2D_CONFIG", "/etc/config/ikev2d")
UCI = os.environ.get("IKEV2D_UCI", "uci")
# rpcd keeps the changes a LuCI session saved but has not applied in uci-<session id> here
RPCD_DIR = os.environ.get("IKEV2D_RPCD_DIR", "/var/run/rpcd")
# the UCI configs the daemon reads, all in CONFIG's directory (the secrets: policy.uci_secrets)
CONFIG_NAMES = ("ikev2d", "ikev2d_secrets")
MAX_INPUT = 64 * 1024  # ubus arguments are a few short strings

# method -> its parameters (all strings); a trailing "?" marks an optional one
METHODS: dict[str, tuple[str, ...]] = {
    "disconnect": ("id?", "target?"),  # one of them: a connection id, or every match
    "reload": (),
    "check": ("ubus_rpc_session?",),  # rpcd adds the caller's session to every call
    "profile": ("platform", "user?"),  # no user for a PSK profile
}


class RpcError(Exception):
    """A problem reported to the caller as {"ok": false, "error": str(exc)}."""


def parse_params(method: str, raw: bytes) -> dict[str, str]:
    """The method's parameters from rpcd's JSON, or RpcError."""
    if method not in METHODS:
        raise RpcError("unknown method")
    text = raw.decode("utf-8", "replace").strip() or "{}"
    try:
        args = json.loads(text)
    except ValueError:
        raise RpcError("invalid JSON input") from None
    if not isinstance(args, dict):
        raise RpcError("arguments must be a JSON object")
    params = {}
    for spec in METHODS[method]:
        name = spec.rstrip("?")
        value = args.get(name)
        if spec.endswith("?") and value in (None, ""):
            continue
        if not isinstance(value, str) or not value.strip():
            raise RpcError(f"missing or empty string parameter: {name}")
        if len(value) > 256 or any(ord(c) < 0x20 or ord(c) == 0x7F for c in value):
            raise RpcError(f"invalid parameter: {name}")
        params[name] = value
    if method == "disconnect" and not params:
        raise RpcError("missing parameter: id (a connection from status) or target")
    return params


def staged_config(session: str | None, workdir: str) -> str:
    """The configuration as Save & Apply will commit it: the files with the changes this
    session has saved, exported by uci into `workdir`; the files themselves when the session
    has none (or the call did not come through rpcd)."""
    savedir = os.path.join(RPCD_DIR, f"uci-{session}")
    if not session or not re.fullmatch(r"[0-9a-f]{32}", session) or not os.path.isdir(savedir):
        return CONFIG
    for name in CONFIG_NAMES:
        if not os.path.exists(os.path.join(os.path.dirname(CONFIG), name)):
            continue  # no secrets file yet: they are still in the configuration
        proc = subprocess.run(
            [UCI, "-c", os.path.dirname(CONFIG), "-P", savedir, "export", name],
            capture_output=True,
            timeout=30,
            check=False,
        )
        if proc.returncode != 0:
            raise RpcError(
                f"uci export {name} failed: {proc.stderr.decode(errors='replace')[-200:]}"
            )
        fd = os.open(os.path.join(workdir, name), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(proc.stdout)
    return os.path.join(workdir, CONFIG_NAMES[0])


def check_config(session: str | None = None) -> dict[str, object]:
    """Validate the configuration LuCI is about to apply, daemon running or not."""
    with tempfile.TemporaryDirectory(prefix="ikev2d-check-") as workdir:  # 0700, holds secrets
        proc = subprocess.run(
            [LAUNCHER, "--uci", staged_config(session, workdir), "--check"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    warnings = [line.removeprefix("warning: ") for line in lines if line.startswith("warning: ")]
    problems = [line for line in lines if not line.startswith("warning: ")]
    if proc.returncode not in (0, 2):
        problems.append(f"check failed (exit {proc.returncode}): {proc.stderr.strip()[-500:]}")
    return {"valid": proc.returncode == 0, "problems": problems, "warnings": warnings}


def run(method: str, raw: bytes) -> dict[str, object]:
    params = parse_params(method, raw)
    if method == "check":
        return {"ok": True, "result": check_config(params.get("ubus_rpc_session"))}
    sys.path.insert(0, PACKAGE)
    from ikev2d.control_client import ControlError, call
    from ikev2d.policy.config import configured_control_socket

    socket = CONTROL_SOCKET or configured_control_socket(CONFIG)
    try:
        return {"ok": True, "result": call(socket, {"cmd": method, **params})}
    except ControlError as exc:  # not running, refused (the daemon's words), no valid answer
        raise RpcError(str(exc)) from None


def main(argv: list[str]) -> int:
    method = argv[1] if len(argv) > 1 else ""
    try:
        raw = sys.stdin.buffer.read(MAX_INPUT + 1)
        if len(raw) > MAX_INPUT:
            raise RpcError("input too large")
        reply = run(method, raw)
    except RpcError as exc:
        reply = {"ok": False, "error": str(exc)}
    except (OSError, subprocess.SubprocessError) as exc:
        reply = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
    except Exception as exc:  # the plugin's contract: a JSON object, never a traceback
        reply = {"ok": False, "error": f"internal error: {type(exc).__name__}"}
    sys.stdout.write(json.dumps(reply) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
