"""The sans-IO core never reaches for sockets, clocks, randomness or the kernel itself, and the
rooms depend on each other only inward (DESIGN: daemon -> ike -> wire/crypto/auth/policy).

Every import counts, however written: absolute or relative, at module top, inside a function
or under TYPE_CHECKING.
"""

import ast
import pathlib
import sys

import pytest

SRC = pathlib.Path(__file__).resolve().parents[2] / "src" / "ikev2d"
CORE_ROOMS = ["wire", "crypto", "ike", "auth", "policy"]
# The rooms each core room may import besides itself; anything else of ikev2d is forbidden
# (the kernel and daemon rooms above all). wire is the bottom: bytes and numbers only.
ALLOWED_ROOMS = {
    "wire": set(),
    "crypto": {"wire"},
    "auth": {"crypto", "wire"},
    "policy": {"crypto", "wire"},
    "ike": {"auth", "crypto", "policy", "wire"},
}
# Besides the standard library, the core imports only cryptography (DESIGN, On the router).
THIRD_PARTY = {"cryptography"}
FORBIDDEN_MODULES = {
    "socket",
    "asyncio",
    "time",
    "selectors",
    "subprocess",
    "threading",
    "pyroute2",
}
FORBIDDEN_CALLS = {("os", "urandom"), ("random", "random")}


def _package(path: pathlib.Path) -> list[str]:
    """The dotted package a module's relative imports start from."""
    return ["ikev2d", *path.parent.relative_to(SRC).parts]


def imports(tree: ast.AST, package: list[str]):
    """Every module name a file imports, relative ones made absolute."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0:
                yield node.module
                continue
            base = package[: len(package) - (node.level - 1)]
            yield ".".join(base + ([node.module] if node.module else []))


def _core_files():
    for room in CORE_ROOMS:
        yield from sorted((SRC / room).rglob("*.py"))


def _room(path: pathlib.Path) -> str:
    return path.relative_to(SRC).parts[0]


@pytest.mark.parametrize("path", list(_core_files()), ids=lambda p: str(p.relative_to(SRC)))
def test_core_module_stays_sans_io(path):
    tree = ast.parse(path.read_text(), str(path))
    for name in imports(tree, _package(path)):
        top = name.split(".")[0]
        assert top not in FORBIDDEN_MODULES, f"{path.name} imports {name}"
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            assert (node.value.id, node.attr) not in FORBIDDEN_CALLS, (
                f"{path.name} calls {node.value.id}.{node.attr}"
            )


@pytest.mark.parametrize("path", list(_core_files()), ids=lambda p: str(p.relative_to(SRC)))
def test_core_module_imports_only_inward(path):
    room = _room(path)
    allowed = ALLOWED_ROOMS[room] | {room}
    for name in imports(ast.parse(path.read_text(), str(path)), _package(path)):
        parts = name.split(".")
        if parts[0] == "ikev2d":
            assert len(parts) > 1 and parts[1] in allowed, f"{room}/{path.name} imports {name}"
        else:
            assert parts[0] in sys.stdlib_module_names | THIRD_PARTY, (
                f"{room}/{path.name} imports {name}: the core uses the standard library and "
                "cryptography only"
            )


def test_boundary_checks_see_violations():
    absolute = ast.parse("import socket\nimport os\nx = os.urandom(8)\n")
    assert "socket" in set(imports(absolute, ["ikev2d", "wire"]))
    relative = ast.parse(
        "from ..kernel import xfrm\nfrom . import sk\n"
        "def f():\n    from ..daemon.loop import Daemon\n"
    )
    assert set(imports(relative, ["ikev2d", "crypto"])) == {
        "ikev2d.kernel",
        "ikev2d.crypto",
        "ikev2d.daemon.loop",
    }
