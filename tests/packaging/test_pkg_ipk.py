"""The .ipk files as opkg sees them: layout, control fields, conffiles, modes, scripts."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest
from pkg_support import ROOT, build_unpacked, install_tree, load_builder

EXECUTABLES = {
    "/etc/init.d/ikev2d",
    "/etc/uci-defaults/80-ikev2d-secrets",
    "/etc/uci-defaults/90-ikev2d-dnsmasq",
    "/usr/sbin/ikev2d",
    "/usr/sbin/ikev2ctl",
    "/usr/libexec/rpcd/ikev2d",
    "/usr/libexec/ikev2d/rpcd_call.py",
}


def _version() -> str:
    text = (ROOT / "src/ikev2d/__init__.py").read_text()
    return re.search(r'__version__ = "([^"]+)"', text).group(1)


def test_outer_archive_is_the_gzipped_tar_opkg_reads(built):
    for ipk in built.values():
        assert ipk.raw[:2] == b"\x1f\x8b"  # gzip, not an ar archive
        assert [m.name for m in ipk.outer] == [
            "./debian-binary",
            "./data.tar.gz",
            "./control.tar.gz",
        ]
        assert all(m.isfile() and m.uid == 0 and m.gid == 0 for m in ipk.outer)


def test_debian_binary(built):
    from pkg_support import _members

    for ipk in built.values():
        _, content = _members(ipk.raw)
        assert content["./debian-binary"] == b"2.0\n"


def test_file_name_and_control_fields(built):
    version = _version()
    assert re.fullmatch(r"\d+\.\d+\.\d+", version)
    for name, ipk in built.items():
        fields = ipk.fields
        assert fields["Package"] == name
        assert re.fullmatch(re.escape(version) + r"-r\d+", fields["Version"])
        assert fields["Architecture"] == "all"
        assert ipk.path.name == f"{name}_{fields['Version']}_all.ipk"
        assert int(fields["Installed-Size"]) == len(ipk.data_tar)
        for key in ("Depends", "Source", "SourceName", "Section", "Maintainer", "Description"):
            assert fields.get(key), key
        assert fields["SourceName"] == name


def test_ikev2d_depends(ikev2d_ipk):
    deps = ikev2d_ipk.depends
    for needed in (
        "python3-light",
        "python3-cryptography",
        "python3-pyroute2",
        "kmod-ipsec",
        "kmod-ipsec4",
        "kmod-ipsec6",
    ):
        assert needed in deps
    assert not any(d.startswith(("+", "@")) or ":" in d for d in deps)


def test_luci_depends_on_the_daemon_and_luci(luci_ipk):
    assert {"luci-base", "ikev2d"} <= set(luci_ipk.depends)


def test_conffiles_keep_the_config(ikev2d_ipk):
    conffiles = ikev2d_ipk.control["./conffiles"][1].decode().split()
    assert conffiles == ["/etc/config/ikev2d", "/etc/config/ikev2d_secrets"]
    assert "./etc/config/ikev2d" in ikev2d_ipk.data
    assert "./etc/config/ikev2d_secrets" in ikev2d_ipk.data


def test_modes_owners_and_times(built):
    for ipk in built.values():
        mtimes = set()
        for name, (info, _) in ipk.data.items():
            assert info.uid == 0 and info.gid == 0, name
            mtimes.add(info.mtime)
            path = name[1:]
            if info.isdir():
                assert info.mode == 0o755, name
            elif path.startswith("/etc/config/"):
                assert info.mode == 0o600, name  # INSTALL_CONF; ikev2d_secrets holds the PSK
            elif path in EXECUTABLES:
                assert info.mode == 0o755, name
            else:
                assert info.mode == 0o644, name
            assert "__pycache__" not in name
        assert len(mtimes) == 1


def _release_magic(builder) -> bytes:
    probe = "import importlib.util, sys; sys.stdout.write(importlib.util.MAGIC_NUMBER.hex())"
    python = builder.bytecode_python("ipk")
    proc = subprocess.run([python, "-I", "-c", probe], capture_output=True, text=True, check=True)
    return bytes.fromhex(proc.stdout)


def test_daemon_ships_as_python_3_11_bytecode_only(ikev2d_ipk, builder):
    """Every module as module.pyc where module.py would be (no __pycache__, no .py: nothing
    is compiled or written to flash at start), with 3.11's magic number, hash-based and
    unchecked (no source to check; no mtime, so builds are reproducible)."""
    shipped = {n for n, (i, _) in ikev2d_ipk.data.items() if i.isfile()}
    daemon = {n for n in shipped if n.startswith("./usr/lib/ikev2d/ikev2d/")}
    expected = {
        "./usr/lib/ikev2d/" + p.relative_to(ROOT / "src").with_suffix(".pyc").as_posix()
        for p in (ROOT / "src/ikev2d").rglob("*.py")
        if "__pycache__" not in p.parts
    }
    assert daemon == expected
    assert not any(n.endswith(".py") and "/usr/lib/ikev2d/" in n for n in shipped)
    magic = _release_magic(builder)
    for name in daemon:
        header = ikev2d_ipk.file(name[1:])[:8]
        assert header[:4] == magic, name
        assert int.from_bytes(header[4:8], "little") == 0b01, name  # hash-based, unchecked


def test_installed_bytecode_runs_on_3_11_and_not_on_another_python(ikev2d_ipk, builder, tmp_path):
    """The .ipk's tree runs its launcher on Python 3.11 (24.10's) and writes no bytecode
    cache; another Python refuses it (bad magic number), so the bytecode is what runs."""
    root = install_tree(ikev2d_ipk, tmp_path / "root")
    launcher = str(root / "usr/sbin/ikev2d")

    def run(python):
        env = {"PATH": os.environ["PATH"], "IKEV2D_PYTHON": python, "LC_ALL": "C"}
        return subprocess.run(
            [launcher, "--version"], capture_output=True, text=True, env=env, timeout=60
        )

    proc = run(builder.bytecode_python("ipk"))
    assert proc.returncode == 0 and _version() in proc.stdout + proc.stderr, proc.stderr
    assert not list(root.rglob("__pycache__"))
    other = run(builder.bytecode_python("apk"))
    assert other.returncode != 0 and "bad magic number" in other.stderr, other.stderr


def test_installed_size_is_recorded(ikev2d_ipk):
    """Installed-Size is the data tar's size (ipkg-build), what the router's overlay holds."""
    size = int(ikev2d_ipk.fields["Installed-Size"])
    assert size == len(ikev2d_ipk.data_tar)
    files = sum(len(d) for _, d in ikev2d_ipk.data.values() if d is not None)
    assert files < size


def test_build_is_reproducible(built, tmp_path):
    again = build_unpacked(tmp_path, load_builder().bytecode_python("ipk"))
    for name, ipk in again.items():
        assert ipk.raw == built[name].raw


def test_maintainer_scripts_follow_package_pack_mk(built, builder):
    for ipk in built.values():
        scripts = {k: v[1].decode() for k, v in ipk.control.items() if v[1] is not None}
        assert scripts["./postinst"] == builder.POSTINST_WRAPPER
        assert scripts["./prerm"] == builder.PRERM_WRAPPER
        assert "default_postinst $0 $@" in scripts["./postinst"]
        assert "default_prerm $0 $@" in scripts["./prerm"]
        for name in ("./postinst", "./prerm", "./postinst-pkg", "./postrm"):
            if name in ipk.control:
                assert ipk.control[name][0].mode == 0o755
                assert scripts[name].startswith("#!/bin/sh\n")
        for name in ("./postinst-pkg", "./postrm"):
            if name in scripts:  # nothing runs against the build host's root
                assert "IPKG_INSTROOT" in scripts[name].splitlines()[1], name
            assert "opkg" not in scripts.get(name, "")


def test_makefile_installs_what_the_ipk_holds(ikev2d_ipk):
    """The feed Makefile (SDK build) and build_ipk.py (no SDK) ship the same files."""
    makefile = (ROOT / "package/ikev2d/Makefile").read_text()
    installed = set()
    install = re.compile(r"\$\(INSTALL_\w+\) \$\(IKEV2D_SRC\)/files(\S+) \$\(1\)(\S+)")
    for src, dest in install.findall(makefile):
        assert dest.endswith("/") and src.startswith(dest), (src, dest)
        installed.add(src)
    shipped = {
        n[1:]
        for n, (info, _) in ikev2d_ipk.data.items()
        if info.isfile() and not n.startswith("./usr/lib/ikev2d/")
    }
    assert installed == shipped
    assert "$(CP) $(IKEV2D_SRC)/src/ikev2d $(1)/usr/lib/ikev2d/" in makefile


def test_versions_agree_everywhere():
    version = _version()
    for mk in ("package/ikev2d/Makefile", "package/luci-app-ikev2d/Makefile"):
        text = (ROOT / mk).read_text()
        assert re.search(rf"^PKG_VERSION:={re.escape(version)}$", text, re.M), mk
        assert re.search(r"^PKG_RELEASE:=\d+$", text, re.M), mk


def test_every_path_the_scripts_name_is_shipped(ikev2d_ipk):
    """Files the init script, launchers and rpcd plugin run or read are in the package."""
    shipped = {n[1:] for n in ikev2d_ipk.data}
    init = ikev2d_ipk.file("/etc/init.d/ikev2d").decode()
    assert "PROG=/usr/sbin/ikev2d" in init and "CONF=/etc/config/ikev2d" in init
    plugin = ikev2d_ipk.file("/usr/libexec/rpcd/ikev2d").decode()
    code = "\n".join(
        line for line in (init + plugin).splitlines() if not line.lstrip().startswith("#")
    )
    referenced = set(re.findall(r"(/(?:usr|etc)/[\w./-]+)", code))
    referenced -= {"/etc/rc.common"}  # base-files
    for path in referenced:
        assert path in shipped, path
    for launcher, entry in (("ikev2d", "daemon_main"), ("ikev2ctl", "ctl_main")):
        text = ikev2d_ipk.file(f"/usr/sbin/{launcher}").decode()
        assert "/usr/lib/ikev2d" in text and f"from ikev2d.cli import {entry}" in text
    # The launchers' entry points: fails until src/ikev2d/cli.py exists.
    assert "/usr/lib/ikev2d/ikev2d/cli.pyc" in shipped, "src/ikev2d/cli.py is missing"
    cli = ikev2d_ipk.file("/usr/lib/ikev2d/ikev2d/cli.pyc")
    assert b"daemon_main" in cli and b"ctl_main" in cli


def test_luci_app_menu_and_acl(luci_ipk, ikev2d_ipk):
    menu = json.loads(luci_ipk.file("/usr/share/luci/menu.d/luci-app-ikev2d.json"))
    assert menu["admin/vpn/ikev2d"]["depends"]["acl"] == ["luci-app-ikev2d"]
    views = {e["action"]["path"] for e in menu.values() if e["action"]["type"] == "view"}
    assert views == {"ikev2d/settings", "ikev2d/status"}
    acl = json.loads(luci_ipk.file("/usr/share/rpcd/acl.d/luci-app-ikev2d.json"))
    # what it grants is checked against the views in tests/luci
    assert acl == json.loads(
        (ROOT / "luci-app/root/usr/share/rpcd/acl.d/luci-app-ikev2d.json").read_text()
    )
    postinst = luci_ipk.control["./postinst-pkg"][1].decode()
    assert "killall -HUP rpcd" in postinst and "luci-indexcache" in postinst


def test_default_config_is_disabled_until_a_key_is_set(ikev2d_ipk):
    text = ikev2d_ipk.file("/etc/config/ikev2d").decode()
    assert "config ikev2d 'server'" in text
    assert "option enabled '0'" in text
    assert "option pool '10.10.10.0/24'" in text
    assert not re.search(r"^\s*option (psk|password)", text, re.M), "secrets are in ikev2d_secrets"
    secrets = ikev2d_ipk.file("/etc/config/ikev2d_secrets").decode()
    assert "config ikev2d 'server'" in secrets and "option psk ''" in secrets
    proposals = re.findall(r"list ike_proposal '([^']+)'", text)
    assert proposals[0] == "aes256-sha256-modp2048"


def test_default_config_values_are_the_schema_defaults(ikev2d_ipk, tmp_path):
    """Every option the shipped file sets equals the daemon's schema default, except the
    one that keeps the service off until the owner acts (enabled '0'; the PSK, empty, is in
    ikev2d_secrets)."""
    sys.path.insert(0, str(ROOT / "src"))
    try:
        from ikev2d.policy.schema import OPTIONS
        from ikev2d.policy.uci import load_uci_file
    finally:
        sys.path.remove(str(ROOT / "src"))
    path = tmp_path / "ikev2d"
    path.write_bytes(ikev2d_ipk.file("/etc/config/ikev2d"))
    package = load_uci_file(str(path))
    server = next(s for s in package.sections if s.type == "ikev2d" and s.name == "server")
    assert server.options["enabled"] == "0"
    schema = {o.name: o for o in OPTIONS if o.section == "server"}
    assert set(server.options) <= schema.keys()

    def as_uci(value):
        if isinstance(value, bool):
            return "1" if value else "0"
        if isinstance(value, tuple):
            return [as_uci(v) for v in value]
        return str(value)

    for name, value in server.options.items():
        if name != "enabled":
            assert value == as_uci(schema[name].default), name


def test_build_stops_without_the_release_python(builder, tmp_path):
    """No venv of the release's Python: the build says what to run, never ships source."""
    with pytest.raises(SystemExit, match=r"Python 3\.11 bytecode.*setup\.sh --oldest"):
        builder.bytecode_python("ipk", tmp_path)
