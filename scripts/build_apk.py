#!/usr/bin/env python3
"""Build dist/ikev2d-<version>-r<release>.apk and dist/luci-app-ikev2d-<...>.apk for OpenWrt 25.12.

Made the way OpenWrt's include/package-pack.mk makes them (CONFIG_USE_APK): the package's files
in one folder, plus ``lib/apk/packages/<pkg>.list`` (every file, sorted), ``<pkg>.conffiles`` and
``<pkg>.conffiles_static`` (``path sha256``); the maintainer scripts post-install (the
default_postinst wrapper followed by the package's postinst), post-upgrade (the same with
PKG_UPGRADE=1), pre-deinstall (default_prerm, then the package's prerm) and post-deinstall (its
postrm); then ``apk mkpkg`` from the pinned apk-tools (scripts/openwrt-userland.sh builds it)
with the description on one line, ``arch:noarch`` and the dependencies space-separated. Contents,
fields and scripts come from the same feed Makefiles as the .ipk (scripts/build_ipk.py).

Usage: build_apk.py [--out DIR] [--source]
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from build_ipk import (
    ROOT,
    IpkSpec,
    build_main,
    ikev2d_spec,
    luci_spec,
    source_date_epoch,
)

__all__ = ["apk_scripts", "build_all", "description_line", "write_apk"]

USERLAND = ROOT / "scripts/openwrt-userland.sh"
MAX_DESCRIPTION = 256  # OpenWrt's apk cuts longer descriptions

_POSTINST_HEAD = """#!/bin/sh
[ "${{IPKG_NO_SCRIPT}}" = "1" ] && exit 0
[ -s ${{IPKG_INSTROOT}}/lib/functions.sh ] || exit 0
. ${{IPKG_INSTROOT}}/lib/functions.sh
export root="${{IPKG_INSTROOT}}"
export pkgname="{pkg}"
add_group_and_user
default_postinst
"""
_PRERM_HEAD = """#!/bin/sh
[ -s ${{IPKG_INSTROOT}}/lib/functions.sh ] || exit 0
. ${{IPKG_INSTROOT}}/lib/functions.sh
export root="${{IPKG_INSTROOT}}"
export pkgname="{pkg}"
default_prerm
"""


def _body(script: str | None) -> str:
    """A package script without its shebang line (package-pack.mk: sed '/^\\s*#!/d')."""
    if not script:
        return ""
    return "".join(line for line in script.splitlines(True) if not line.lstrip().startswith("#!"))


def apk_scripts(spec: IpkSpec) -> dict[str, str]:
    """apk script type -> text, as package-pack.mk composes them."""
    post_install = _POSTINST_HEAD.format(pkg=spec.package) + _body(spec.scripts.get("postinst-pkg"))
    scripts = {
        "post-install": post_install,
        "post-upgrade": "#!/bin/sh\nexport PKG_UPGRADE=1\n" + _body(post_install),
        "pre-deinstall": _PRERM_HEAD.format(pkg=spec.package)
        + _body(spec.scripts.get("prerm-pkg")),
    }
    if spec.scripts.get("postrm"):
        scripts["post-deinstall"] = spec.scripts["postrm"].lstrip()
    return scripts


def description_line(spec: IpkSpec) -> str:
    """$(strip description): one line, which must fit apk's limit."""
    text = " ".join(spec.description.split())
    size = len(text.encode())
    if size > MAX_DESCRIPTION:
        raise SystemExit(f"{spec.package}: description of {size} B; apk keeps {MAX_DESCRIPTION}")
    return text


def _apk_depends(spec: IpkSpec) -> str:
    return " ".join(d.strip() for d in spec.fields.get("Depends", "").split(",") if d.strip())


def _stage(spec: IpkSpec, idir: Path, mtime: int) -> None:
    """The package's files under idir, with lib/apk/packages/<pkg>.{list,conffiles,...}."""
    for dest, src, mode in spec.files:
        target = idir / dest.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, target)
        target.chmod(mode)
    meta = idir / "lib/apk/packages"
    meta.mkdir(parents=True, exist_ok=True)
    files = sorted("/" + p.relative_to(idir).as_posix() for p in idir.rglob("*") if not p.is_dir())
    (meta / f"{spec.package}.list").write_text("".join(f + "\n" for f in files))
    if spec.conffiles:
        (meta / f"{spec.package}.conffiles").write_text("".join(c + "\n" for c in spec.conffiles))
        static = []
        for conf in spec.conffiles:
            path = idir / conf.lstrip("/")
            if path.is_file():
                static.append(f"{conf} {hashlib.sha256(path.read_bytes()).hexdigest()}\n")
        (meta / f"{spec.package}.conffiles_static").write_text("".join(static))
    for path in [*idir.rglob("*"), idir]:
        os.utime(path, (mtime, mtime), follow_symlinks=False)


def userland_apk() -> tuple[Path, dict[str, str]]:
    """The pinned apk binary and the environment it runs in (its libraries beside it)."""
    proc = subprocess.run([str(USERLAND)], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"{USERLAND} failed:\n{proc.stderr[-3000:]}")
    tree = Path(proc.stdout.strip().splitlines()[-1])
    return tree / "usr/bin/apk", {**os.environ, "LD_LIBRARY_PATH": str(tree / "usr/lib")}


def write_apk(spec: IpkSpec, out_dir: Path, mtime: int, apk: Path, env: dict[str, str]) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    output = out_dir / f"{spec.package}-{spec.version}.apk"
    with tempfile.TemporaryDirectory(prefix=f"apk-{spec.package}-") as tmp:
        idir, adir = Path(tmp) / "files", Path(tmp) / "scripts"
        idir.mkdir()
        adir.mkdir()
        _stage(spec, idir, mtime)
        argv = [
            str(apk), "mkpkg",
            "--info", f"name:{spec.package}",
            "--info", f"version:{spec.version}",
            "--info", f"description:{description_line(spec)}",
            "--info", "arch:noarch",
            "--info", f"license:{spec.fields.get('License', '')}",
            "--info", f"origin:{spec.fields.get('Source', '')}",
            "--info", "url:",
            "--info", f"maintainer:{spec.fields.get('Maintainer', '')}",
        ]  # fmt: skip
        for kind, text in apk_scripts(spec).items():
            script = adir / kind
            script.write_text(text)
            script.chmod(0o755)
            argv += ["--script", f"{kind}:{script}"]
        argv += ["--info", f"depends:{_apk_depends(spec)}"]
        argv += ["--files", str(idir), "--output", str(output)]
        run_env = {**env, "SOURCE_DATE_EPOCH": str(mtime)}
        proc = subprocess.run(argv, capture_output=True, text=True, env=run_env, check=False)
        if proc.returncode != 0:
            raise SystemExit(f"apk mkpkg {spec.package} failed:\n{proc.stdout}{proc.stderr}")
    return output


def build_all(out_dir: Path, root: Path = ROOT, python: str | None = None) -> list[Path]:
    """Both .apk; the daemon as bytecode of `python` (None: plain .py)."""
    apk, env = userland_apk()
    mtime = source_date_epoch(root)
    specs = (ikev2d_spec(root, python), luci_spec(root))
    return [write_apk(s, out_dir, mtime, apk, env) for s in specs]


def main(argv: list[str] | None = None) -> int:
    return build_main(argv, __doc__.splitlines()[0], build_all, "apk")


if __name__ == "__main__":
    sys.exit(main())
