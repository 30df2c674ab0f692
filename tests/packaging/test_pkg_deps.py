"""DEPENDS in package/ikev2d/Makefile covers what the code imports and the ESP it offers."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

from openwrt_python import package_for
from pkg_support import ROOT, load_builder

THIRD_PARTY = {"cryptography": "python3-cryptography", "pyroute2": "python3-pyroute2"}

# XFRM algorithm -> kernel packages; kmod-ipsec itself pulls authenc, cbc, des, echainiv,
# hmac, md5, sha1 (package/kernel/linux/modules/netsupport.mk).
KMODS_FOR_XFRM = {
    "cbc(aes)": {"kmod-crypto-aes"},
    "rfc4106(gcm(aes))": {"kmod-crypto-aes", "kmod-crypto-gcm"},
    "rfc7539esp(chacha20,poly1305)": {"kmod-crypto-chacha20poly1305"},
    "cbc(des3_ede)": set(),
    "hmac(sha1)": set(),
    "hmac(md5)": set(),
    "hmac(sha256)": {"kmod-crypto-sha256"},
    "hmac(sha384)": {"kmod-crypto-sha512"},
    "hmac(sha512)": {"kmod-crypto-sha512"},
}


def declared_depends() -> set[str]:
    builder = load_builder()
    mk = builder.parse_makefile(ROOT / "package/ikev2d/Makefile")
    return set(builder.control_depends(mk.variables["Package/ikev2d:DEPENDS"]))


def imported_top_level(src: Path) -> dict[str, set[str]]:
    """Absolute imports (top-level name -> files) of every module under src."""
    found: dict[str, set[str]] = {}
    for path in sorted(src.rglob("*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                found.setdefault(name.split(".")[0], set()).add(path.name)
    return found


def required_packages(imports: dict[str, set[str]]) -> dict[str, str]:
    """package -> the module that needs it."""
    needed = {"python3-light": "(interpreter)"}
    for module in imports:
        if module in ("ikev2d", "__future__"):
            continue
        if module in THIRD_PARTY:
            needed[THIRD_PARTY[module]] = module
        elif module in sys.stdlib_module_names:
            pkg = package_for(module)
            if pkg:
                needed[pkg] = module
        else:
            raise AssertionError(f"{module} ({imports[module]}) is neither stdlib nor declared")
    return needed


def test_every_imported_stdlib_module_is_installed_on_the_router():
    needed = required_packages(imported_top_level(ROOT / "src/ikev2d"))
    declared = declared_depends()
    missing = {pkg: mod for pkg, mod in needed.items() if pkg not in declared}
    assert not missing, f"add to DEPENDS in package/ikev2d/Makefile: {missing}"
    # and nothing python3-* is declared that the code does not use
    unused = {d for d in declared if d.startswith("python3-")} - needed.keys()
    assert not unused, f"declared but not imported: {unused}"


def test_the_check_itself_catches_a_split_out_module(tmp_path):
    (tmp_path / "m.py").write_text("import logging.handlers\nfrom asyncio import run\n")
    needed = required_packages(imported_top_level(tmp_path))
    assert needed.keys() == {"python3-light", "python3-logging", "python3-asyncio"}


def test_every_esp_algorithm_has_its_kernel_modules():
    sys.path.insert(0, str(ROOT / "src"))
    try:
        from ikev2d.crypto.transforms import ALL_TRANSFORMS
    finally:
        sys.path.remove(str(ROOT / "src"))
    declared = declared_depends()
    assert {"kmod-ipsec", "kmod-ipsec4", "kmod-ipsec6"} <= declared
    names = {t.xfrm_name for t in ALL_TRANSFORMS if t.xfrm_name}
    assert names, "the crypto registry lists no XFRM algorithm"
    unknown = names - KMODS_FOR_XFRM.keys()
    assert not unknown, f"map these XFRM algorithms to kmod-crypto-* packages: {unknown}"
    for name in names:
        assert KMODS_FOR_XFRM[name] <= declared, name


def test_no_nft_xfrm_unless_rules_match_ipsec():
    """kmod-nft-xfrm is needed only by 'meta ipsec'/'rt ipsec' rules; ours go through fw4."""
    code = [
        line
        for p in (ROOT / "files").rglob("*")
        if p.is_file()
        for line in p.read_text().splitlines()
        if not line.lstrip().startswith("#")
    ]
    uses_ipsec_match = any("meta ipsec" in line or "rt ipsec" in line for line in code)
    assert ("kmod-nft-xfrm" in declared_depends()) == uses_ipsec_match
