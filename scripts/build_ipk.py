#!/usr/bin/env python3
"""Build dist/ikev2d_<version>_all.ipk and dist/luci-app-ikev2d_<version>_all.ipk without an SDK.

The format is what OpenWrt's scripts/ipkg-build writes and opkg reads: a gzipped tar (not an
ar archive) of ``./debian-binary`` ("2.0\\n"), ``./data.tar.gz`` and ``./control.tar.gz``;
members sorted, owner 0:0, GNU format, one fixed mtime, gzip without name or time, so two
builds of one tree are byte-identical. Control fields, dependencies, conffiles and the
package's own maintainer scripts come from the feed Makefiles in package/ (one source for
both builds); the postinst/prerm wrappers are the ones include/package-pack.mk generates,
which hand over to default_postinst/default_prerm from /lib/functions.sh.

The daemon ships as bytecode for the release's Python only (``module.pyc`` where ``module.py``
would be, as OpenWrt's python3-package.mk does with ``compileall -b``): nothing is compiled or
written to flash at first start. ``--source`` builds a package of plain ``.py`` instead.

Usage: build_ipk.py [--out DIR] [--source]
"""

from __future__ import annotations

import argparse
import atexit
import gzip
import io
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "RELEASE_PYTHON",
    "ROOT",
    "FeedMakefile",
    "IpkSpec",
    "build_all",
    "build_main",
    "bytecode_python",
    "control_text",
    "ikev2d_spec",
    "luci_spec",
    "parse_makefile",
    "project_version",
    "write_ipk",
]

ROOT = Path(__file__).resolve().parent.parent

# The Python of each release, the one whose bytecode its package carries: OpenWrt 24.10 (opkg,
# .ipk) has 3.11, 25.12 (apk) 3.13. Each is a venv of scripts/setup.sh (--oldest for 3.11).
RELEASE_PYTHON = {"ipk": ("3.11", ".venv-oldest"), "apk": ("3.13", ".venv")}

# include/package-pack.mk: the generated postinst/prerm. The package's own scripts go to
# postinst-pkg / prerm-pkg, which default_postinst / default_prerm source.
POSTINST_WRAPPER = """#!/bin/sh
[ "${IPKG_NO_SCRIPT}" = "1" ] && exit 0
[ -s ${IPKG_INSTROOT}/lib/functions.sh ] || exit 0
. ${IPKG_INSTROOT}/lib/functions.sh
default_postinst $0 $@
"""
PRERM_WRAPPER = """#!/bin/sh
[ -s ${IPKG_INSTROOT}/lib/functions.sh ] || exit 0
. ${IPKG_INSTROOT}/lib/functions.sh
default_prerm $0 $@
"""
# luci.mk's Package/<app>/postinst (no uci-defaults of our own in the LuCI app).
LUCI_POSTINST = """#!/bin/sh
[ -n "${IPKG_INSTROOT}" ] || {
	rm -f /tmp/luci-indexcache.*
	rm -rf /tmp/luci-modulecache/
	killall -HUP rpcd 2>/dev/null
	exit 0
}
"""


@dataclass
class FeedMakefile:
    """The assignments and define blocks of an OpenWrt package Makefile."""

    variables: dict[str, str] = field(default_factory=dict)
    defines: dict[str, str] = field(default_factory=dict)


def parse_makefile(path: Path) -> FeedMakefile:
    """Read ``NAME:=value`` (with ``\\`` continuations) and ``define NAME ... endef`` blocks.

    Inside a define, make's ``$$`` stands for ``$``; it is unescaped here as make does when
    it writes the block into a script.
    """
    result = FeedMakefile()
    lines = path.read_text().splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        define = re.match(r"^define\s+(\S+)\s*$", line)
        if define:
            body = []
            i += 1
            while i < len(lines) and lines[i].strip() != "endef":
                body.append(lines[i])
                i += 1
            result.defines[define.group(1)] = "\n".join(body).replace("$$", "$") + "\n"
        elif not line.lstrip().startswith("#"):
            assign = re.match(r"^\s*([A-Za-z0-9_/.-]+)\s*:?=\s*(.*)$", line)
            if assign:
                value = assign.group(2)
                while value.endswith("\\") and i + 1 < len(lines):
                    i += 1
                    value = value[:-1] + " " + lines[i].strip()
                result.variables[assign.group(1)] = " ".join(value.split())
        i += 1
    # Variables inside a define (DEPENDS:=... in Package/x) are read from its body.
    for name, body in result.defines.items():
        sub = parse_body_variables(body)
        for key, value in sub.items():
            result.variables[f"{name}:{key}"] = value
    return result


def parse_body_variables(body: str) -> dict[str, str]:
    out: dict[str, str] = {}
    lines = body.splitlines()
    i = 0
    while i < len(lines):
        assign = re.match(r"^\s*([A-Z_]+)\s*:?=\s*(.*)$", lines[i])
        if assign and not lines[i].lstrip().startswith("#"):
            value = assign.group(2)
            while value.endswith("\\") and i + 1 < len(lines):
                i += 1
                value = value[:-1] + " " + lines[i].strip()
            out[assign.group(1)] = " ".join(value.split())
        i += 1
    return out


def control_depends(depends: str) -> list[str]:
    """OpenWrt DEPENDS syntax -> package names as they appear in the control file.

    ``+pkg`` is a dependency, ``@SYMBOL`` only a build condition, ``COND:pkg`` depends on a
    config symbol: IPV6 is on in every release image, so ``+IPV6:kmod-ipsec6`` stays.
    """
    names = []
    for token in depends.split():
        if token.startswith("@"):
            continue
        name = token.lstrip("+")
        if ":" in name:
            condition, name = name.split(":", 1)
            if condition != "IPV6":
                raise ValueError(f"unsupported conditional dependency: {token}")
        names.append(name)
    return names


def project_version(root: Path = ROOT) -> str:
    text = (root / "src/ikev2d/__init__.py").read_text()
    match = re.search(r'^__version__\s*=\s*"(\d+\.\d+\.\d+)"\s*$', text, re.M)
    if not match:
        raise SystemExit('src/ikev2d/__init__.py: no __version__ = "X.Y.Z"')
    return match.group(1)


@dataclass
class IpkSpec:
    """Everything one .ipk holds: control fields, scripts, and (path in package, source, mode)."""

    package: str
    version: str
    fields: dict[str, str]
    description: str
    files: list[tuple[str, Path, int]]
    scripts: dict[str, str]
    conffiles: list[str] = field(default_factory=list)


def _mode_for(src: Path, dest: str) -> int:
    if dest.startswith("/etc/config/"):
        return 0o600  # INSTALL_CONF: UCI files may hold keys (the PSK here)
    return 0o755 if os.access(src, os.X_OK) else 0o644


def _tree(base: Path, prefix: str) -> list[tuple[str, Path, int]]:
    out = []
    if not base.is_dir():
        return out
    for src in sorted(base.rglob("*")):
        if src.is_dir() or "__pycache__" in src.parts or src.suffix == ".pyc":
            continue
        dest = prefix + "/" + src.relative_to(base).as_posix()
        out.append((dest, src, _mode_for(src, dest)))
    return out


def _full_version(mk: FeedMakefile, version: str, name: str) -> str:
    if mk.variables.get("PKG_VERSION") != version:
        raise SystemExit(
            f"package/{name}/Makefile: PKG_VERSION {mk.variables.get('PKG_VERSION')!r} "
            f"!= __version__ {version!r}"
        )
    release = mk.variables.get("PKG_RELEASE", "")
    if not release.isdigit():
        raise SystemExit(f"package/{name}/Makefile: PKG_RELEASE must be a plain number")
    return f"{version}-r{release}"


def bytecode_python(kind: str, root: Path = ROOT) -> str:
    """The interpreter that compiles the `kind` ("ipk"/"apk") package's bytecode; exits with
    what to run when it is missing or of another version (a source package is never made
    silently)."""
    version, venv = RELEASE_PYTHON[kind]
    python = root / venv / "bin/python"
    found = ""
    if python.exists():
        probe = [str(python), "-c", "import sys; print('%d.%d' % sys.version_info[:2])"]
        found = subprocess.run(probe, capture_output=True, text=True, check=False).stdout.strip()
    if found != version:
        raise SystemExit(
            f"the .{kind} carries Python {version} bytecode, but {python} is "
            f"{'Python ' + found if found else 'missing'}: run scripts/setup.sh"
            f"{' --oldest' if venv == '.venv-oldest' else ''} (or build from source: --source)"
        )
    return str(python)


def _compiled_tree(base: Path, prefix: str, python: str) -> list[tuple[str, Path, int]]:
    """base's modules compiled by `python` to legacy .pyc (no __pycache__, no .py), with the
    install path in tracebacks; unchecked-hash .pyc hold no mtime, so builds are identical."""
    work = Path(tempfile.mkdtemp(prefix="ikev2d-pyc-"))
    atexit.register(shutil.rmtree, work, ignore_errors=True)
    tree = work / "tree"
    shutil.copytree(base, tree, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    argv = [python, "-I", "-m", "compileall", "-q", "-f", "-b", "-d", prefix]
    argv += ["--invalidation-mode", "unchecked-hash", str(tree)]
    proc = subprocess.run(argv, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"compileall with {python} failed:\n{proc.stdout}{proc.stderr}")
    return [
        (prefix + "/" + pyc.relative_to(tree).as_posix(), pyc, 0o644)
        for pyc in sorted(tree.rglob("*.pyc"))
    ]


def ikev2d_spec(root: Path = ROOT, python: str | None = None) -> IpkSpec:
    """The daemon's package: bytecode compiled by `python`, or plain .py when it is None."""
    mk = parse_makefile(root / "package/ikev2d/Makefile")
    version = _full_version(mk, project_version(root), "ikev2d")
    pkg = "Package/ikev2d"
    lib, dest_dir = root / "src/ikev2d", "/usr/lib/ikev2d/ikev2d"
    if python:
        files = _compiled_tree(lib, dest_dir, python)
    else:
        files = [(dest, src, 0o644) for dest, src, _ in _tree(lib, dest_dir) if src.suffix == ".py"]
    files += _tree(root / "files", "")
    scripts = {"postinst": POSTINST_WRAPPER, "prerm": PRERM_WRAPPER}
    for script, name in (
        ("postinst", "postinst-pkg"),
        ("prerm", "prerm-pkg"),
        ("postrm", "postrm"),
    ):
        if f"{pkg}/{script}" in mk.defines:
            scripts[name] = mk.defines[f"{pkg}/{script}"]
    return IpkSpec(
        package="ikev2d",
        version=version,
        fields={
            "Depends": ", ".join(control_depends(mk.variables[f"{pkg}:DEPENDS"])),
            "Source": "package/ikev2d",
            "SourceName": "ikev2d",
            "License": mk.variables.get("PKG_LICENSE", ""),
            "Section": mk.variables[f"{pkg}:SECTION"],
            "Maintainer": mk.variables.get("PKG_MAINTAINER", ""),
        },
        description=mk.defines[f"{pkg}/description"],
        files=files,
        scripts=scripts,
        conffiles=mk.defines.get(f"{pkg}/conffiles", "").split(),
    )


def luci_spec(root: Path = ROOT) -> IpkSpec:
    mk = parse_makefile(root / "package/luci-app-ikev2d/Makefile")
    version = _full_version(mk, project_version(root), "luci-app-ikev2d")
    files = _tree(root / "luci-app/htdocs", "/www") + _tree(root / "luci-app/root", "")
    return IpkSpec(
        package="luci-app-ikev2d",
        version=version,
        fields={
            "Depends": ", ".join(control_depends(mk.variables["LUCI_DEPENDS"])),
            "Source": "package/luci-app-ikev2d",
            "SourceName": "luci-app-ikev2d",
            "License": mk.variables.get("PKG_LICENSE", ""),
            "Section": "luci",
            "Maintainer": mk.variables.get("PKG_MAINTAINER", ""),
        },
        description=" " + mk.variables["LUCI_TITLE"] + "\n",
        files=files,
        scripts={
            "postinst": POSTINST_WRAPPER,
            "prerm": PRERM_WRAPPER,
            "postinst-pkg": LUCI_POSTINST,
        },
    )


def control_text(spec: IpkSpec, installed_size: int) -> str:
    lines = [f"Package: {spec.package}", f"Version: {spec.version}"]
    lines += [f"{key}: {value}" for key, value in spec.fields.items() if value]
    lines += ["Architecture: all", f"Installed-Size: {installed_size}"]
    desc = [line.strip() for line in spec.description.strip().splitlines()]
    lines.append("Description: " + desc[0])
    lines += [" " + line for line in desc[1:]]
    return "\n".join(lines) + "\n"


def source_date_epoch(root: Path = ROOT) -> int:
    """SOURCE_DATE_EPOCH, else the last commit's time: the same tree gives the same bytes."""
    if os.environ.get("SOURCE_DATE_EPOCH", "").isdigit():
        return int(os.environ["SOURCE_DATE_EPOCH"])
    try:
        out = subprocess.run(
            ["git", "-C", str(root), "log", "-1", "--format=%ct"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        return int(out)
    except (OSError, subprocess.CalledProcessError, ValueError):
        return 0


def _tarinfo(name: str, mtime: int, mode: int, size: int = 0, *, is_dir: bool = False):
    info = tarfile.TarInfo(name)
    info.type = tarfile.DIRTYPE if is_dir else tarfile.REGTYPE
    info.mode, info.size, info.mtime = mode, size, mtime
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info


def _tar_gz(entries: list[tuple[str, bytes | None, int]], mtime: int) -> bytes:
    """entries: (name, data or None for a directory, mode), already in order."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for name, data, mode in entries:
            if data is None:
                tar.addfile(_tarinfo(name, mtime, mode, is_dir=True))
            else:
                tar.addfile(_tarinfo(name, mtime, mode, len(data)), io.BytesIO(data))
    return _gzip(raw.getvalue())


def _gzip(data: bytes) -> bytes:
    out = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=out, mtime=0, compresslevel=9) as gz:
        gz.write(data)
    return out.getvalue()


def _data_entries(spec: IpkSpec) -> list[tuple[str, bytes | None, int]]:
    dirs = {"."}
    files = {}
    for dest, src, mode in spec.files:
        rel = "." + dest
        files[rel] = (src.read_bytes(), mode)
        parent = os.path.dirname(rel)
        while parent not in dirs:
            dirs.add(parent)
            parent = os.path.dirname(parent)
    names = sorted(dirs | files.keys(), key=lambda n: n.split("/"))
    return [
        (name + "/" if name in dirs else name, None, 0o755)
        if name in dirs
        else (name, files[name][0], files[name][1])
        for name in names
    ]


def write_ipk(spec: IpkSpec, out_dir: Path, mtime: int) -> Path:
    data_entries = _data_entries(spec)
    data_gz = _tar_gz(data_entries, mtime)
    installed_size = len(gzip.decompress(data_gz))  # ipkg-build: size of the data tar
    control = {"control": (control_text(spec, installed_size).encode(), 0o644)}
    if spec.conffiles:
        control["conffiles"] = ("\n".join(sorted(spec.conffiles)) + "\n").encode(), 0o644
    for name, text in spec.scripts.items():
        control[name] = text.encode(), 0o755
    control_entries: list[tuple[str, bytes | None, int]] = [("./", None, 0o755)]
    control_entries += [("./" + name, data, mode) for name, (data, mode) in sorted(control.items())]
    control_gz = _tar_gz(control_entries, mtime)
    outer = [
        ("./debian-binary", b"2.0\n", 0o644),
        ("./data.tar.gz", data_gz, 0o644),
        ("./control.tar.gz", control_gz, 0o644),
    ]
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{spec.package}_{spec.version}_all.ipk"
    path.write_bytes(_tar_gz(outer, mtime))
    return path


def build_all(out_dir: Path, root: Path = ROOT, python: str | None = None) -> list[Path]:
    """Both .ipk; the daemon as bytecode of `python` (None: plain .py)."""
    mtime = source_date_epoch(root)
    specs = (ikev2d_spec(root, python), luci_spec(root))
    return [write_ipk(spec, out_dir, mtime) for spec in specs]


def build_main(argv: list[str] | None, description: str, build, kind: str) -> int:
    """The command line of a package builder: `--out DIR` (default dist/), `--source` (plain
    .py instead of the release's bytecode), build(out, ROOT, python)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--out", type=Path, default=ROOT / "dist")
    parser.add_argument("--source", action="store_true", help="ship .py, not bytecode")
    args = parser.parse_args(argv)
    python = None if args.source else bytecode_python(kind)
    for path in build(args.out, ROOT, python):
        print(f"built {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
    return 0


def main(argv: list[str] | None = None) -> int:
    return build_main(argv, __doc__.splitlines()[0], build_all, "ipk")


if __name__ == "__main__":
    sys.exit(main())
