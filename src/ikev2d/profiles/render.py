"""One entry point for every platform: ``render_profile`` and the ``ikev2ctl profile`` CLI."""

from __future__ import annotations

import argparse
import base64
import os
import sys

from ikev2d.policy.config import ServerConfig

from .android import render_android
from .apple import render_mobileconfig
from .common import PLATFORMS, Profile, ProfileError
from .sswan import render_sswan
from .windows import render_powershell

__all__ = [
    "pki_material",
    "profile_command",
    "profile_main",
    "profile_request",
    "render_profile",
]

_RENDERERS = {
    "ios": render_mobileconfig,
    "macos": render_mobileconfig,
    "windows": render_powershell,
    "android-sswan": render_sswan,
    "android": render_android,
}


def render_profile(
    config: ServerConfig,
    platform: str,
    user: str | None = None,
    *,
    ca_pem: bytes | None = None,
    p12: bytes | None = None,
    p12_password: str | None = None,
    on_demand: bool = False,
    name: str | None = None,
) -> Profile:
    """``(filename, mime, data)`` of the client profile; ProfileError says what is missing."""
    renderer = _RENDERERS.get(platform)
    if renderer is None:
        raise ProfileError(f"unknown platform {platform!r} (known: {', '.join(PLATFORMS)})")
    return renderer(config, platform, user, ca_pem=ca_pem, p12=p12,
                    p12_password=p12_password, on_demand=on_demand, name=name)  # fmt: skip


def profile_command(config: ServerConfig, platform: str, user: str | None, **kwargs) -> dict:
    """The control socket's ``profile`` result (JSON-safe): file name, type, base64 data,
    and for ``android`` the setup card itself."""
    prof = render_profile(config, platform, user or None, **kwargs)
    result = {
        "platform": platform,
        "filename": prof.filename,
        "mime": prof.mime,
        "data": base64.b64encode(prof.data).decode("ascii"),
        "contains_secret": _contains_secret(config, platform),
    }
    return result


def profile_request(config: ServerConfig, platform: object, user: object) -> dict:
    """The control socket's ``profile`` (LuCI's download buttons): the request's values
    checked, the CA and the user's PKCS#12 read from the configuration's pki_dir."""
    if not isinstance(platform, str) or platform not in PLATFORMS:
        raise ProfileError(f'profile needs a "platform": one of {", ".join(PLATFORMS)}')
    if user is not None and (not isinstance(user, str) or len(user) > 128):
        raise ProfileError('"user" must be a user name')
    return profile_command(config, platform, user, **pki_material(config.pki_dir, user))


def _contains_secret(config: ServerConfig, platform: str) -> bool:
    """Profiles that carry the PSK or a private key must be handed over privately."""
    if config.auth_mode == "psk":
        return platform in ("ios", "macos", "android")
    return config.auth_mode == "cert"


def _read(path: str) -> bytes | None:
    try:
        with open(path, "rb") as f:
            return f.read()
    except FileNotFoundError:
        return None


def pki_material(pki_dir: str, user: str | None) -> dict:
    """The CA certificate and the user's PKCS#12 (``clients/<user>.p12``, as ``ikev2ctl pki
    issue`` writes it) for render_profile; absent files are None."""
    p12 = None
    if user and "/" not in user and not user.startswith("."):
        p12 = _read(os.path.join(pki_dir, "clients", f"{user}.p12"))
    return {"ca_pem": _read(os.path.join(pki_dir, "ca.pem")), "p12": p12}


def profile_main(argv: list[str], config: ServerConfig, *, pki_dir: str) -> int:
    """``ikev2ctl profile --platform P [--user NAME] [--out FILE] [--on-demand]``.

    The CA and a user's PKCS#12 come from ``pki_dir`` (see pki_material).
    Exit 0 written, 2 when the profile cannot be made (message on stderr).
    """
    ap = argparse.ArgumentParser(prog="ikev2ctl profile")
    ap.add_argument("--platform", required=True, choices=PLATFORMS)
    ap.add_argument("--user")
    ap.add_argument("--out", help="file to write (default: the profile's own name; - = stdout)")
    ap.add_argument("--on-demand", action="store_true", help="Apple: connect always")
    ap.add_argument("--name", help="the VPN's display name")
    args = ap.parse_args(argv)
    try:
        prof = render_profile(config, args.platform, args.user, on_demand=args.on_demand,
                              name=args.name, **pki_material(pki_dir, args.user))  # fmt: skip
    except ProfileError as exc:
        print(f"ikev2ctl profile: {exc}", file=sys.stderr)
        return 2
    out = args.out or prof.filename
    if out == "-":
        sys.stdout.buffer.write(prof.data)
        return 0
    # profiles may carry the PSK or a private key: never readable by others
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(prof.data)
    print(f"wrote {out} ({prof.mime})", file=sys.stderr)
    return 0
