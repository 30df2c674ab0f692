"""Fixtures for the packaging tests: the built .ipk files, unpacked the way opkg does it.

opkg (libopkg/pkg_extract.c) opens the .ipk as a gzipped tar, takes ./control.tar.gz and
./data.tar.gz out of it and reads each as a gzipped tar in turn; these fixtures do the same
with nothing but tarfile/gzip, so a format slip fails here.
"""

from __future__ import annotations

import io
import sys
import tarfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from testbed.paths import PROJECT, script

ROOT = PROJECT


def load_builder():
    return script("build_ipk")


@dataclass
class Unpacked:
    path: Path
    raw: bytes
    outer: list[tarfile.TarInfo]
    control: dict[str, tuple[tarfile.TarInfo, bytes]]
    data: dict[str, tuple[tarfile.TarInfo, bytes | None]]
    data_tar: bytes

    @property
    def fields(self) -> dict[str, str]:
        out: dict[str, str] = {}
        key = None
        for line in self.control["./control"][1].decode().splitlines():
            if line.startswith(" ") and key:
                out[key] += "\n" + line[1:]
            else:
                key, _, value = line.partition(": ")
                out[key] = value
        return out

    @property
    def depends(self) -> list[str]:
        return [d.strip() for d in self.fields.get("Depends", "").split(",") if d.strip()]

    def file(self, path: str) -> bytes:
        data = self.data["." + path][1]
        assert data is not None, path
        return data


def _members(blob: bytes) -> tuple[list[tarfile.TarInfo], dict[str, bytes | None]]:
    with tarfile.open(fileobj=io.BytesIO(blob), mode="r:gz") as tar:
        infos = tar.getmembers()
        content = {m.name: (tar.extractfile(m).read() if m.isfile() else None) for m in infos}
    return infos, content


def unpack(path: Path) -> Unpacked:
    raw = path.read_bytes()
    outer, outer_content = _members(raw)
    control_infos, control_content = _members(outer_content["./control.tar.gz"])
    data_infos, data_content = _members(outer_content["./data.tar.gz"])
    import gzip

    return Unpacked(
        path=path,
        raw=raw,
        outer=outer,
        control={m.name: (m, control_content[m.name]) for m in control_infos},
        data={m.name.rstrip("/") or ".": (m, data_content[m.name]) for m in data_infos},
        data_tar=gzip.decompress(outer_content["./data.tar.gz"]),
    )


@pytest.fixture(scope="session")
def builder():
    return load_builder()


def build_unpacked(out: Path, python: str | None) -> dict[str, Unpacked]:
    """Both .ipk built into out, the daemon as bytecode of `python`, unpacked by name."""
    paths = load_builder().build_all(out, ROOT, python)
    return {unpack(p).fields["Package"]: unpack(p) for p in paths}


@pytest.fixture(scope="session")
def built(builder, tmp_path_factory) -> dict[str, Unpacked]:
    """The .ipk as `make ipk` makes them: Python 3.11 bytecode (OpenWrt 24.10's Python)."""
    return build_unpacked(tmp_path_factory.mktemp("dist"), builder.bytecode_python("ipk"))


@pytest.fixture(scope="session")
def ikev2d_ipk(built) -> Unpacked:
    return built["ikev2d"]


@pytest.fixture(scope="session")
def luci_ipk(built) -> Unpacked:
    return built["luci-app-ikev2d"]


def install_tree(ipk: Unpacked, root: Path) -> Path:
    """The data of an .ipk installed under root (modes kept, as opkg does)."""
    with tarfile.open(fileobj=io.BytesIO(ipk.data_tar)) as tar:
        tar.extractall(root, filter="tar")
    return root


@pytest.fixture(scope="session")
def staging(tmp_path_factory) -> Path:
    """ikev2d.ipk installed under a staging root, its bytecode compiled by the Python running
    the tests (3.13, or 3.11 in the oldest venv), which the staging tests run it with."""
    ipk = build_unpacked(tmp_path_factory.mktemp("dist-here"), sys.executable)["ikev2d"]
    return install_tree(ipk, tmp_path_factory.mktemp("staging"))
