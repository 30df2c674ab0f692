"""The sans-IO core never reaches for sockets, clocks, randomness or the kernel itself."""

import ast
import pathlib

import pytest

SRC = pathlib.Path(__file__).resolve().parents[2] / "src" / "ikev2d"
CORE_ROOMS = ["wire", "crypto", "ike", "auth", "policy"]
FORBIDDEN_MODULES = {
    "socket",
    "asyncio",
    "time",
    "selectors",
    "subprocess",
    "threading",
    "pyroute2",
}
FORBIDDEN_ROOMS = {"ikev2d.daemon", "ikev2d.kernel"}
FORBIDDEN_CALLS = {("os", "urandom"), ("random", "random")}


def _imports(tree: ast.AST):
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module


def _core_files():
    for room in CORE_ROOMS:
        yield from sorted((SRC / room).rglob("*.py"))


@pytest.mark.parametrize("path", list(_core_files()), ids=lambda p: str(p.relative_to(SRC)))
def test_core_module_stays_sans_io(path):
    tree = ast.parse(path.read_text(), str(path))
    for name in _imports(tree):
        top = name.split(".")[0]
        assert top not in FORBIDDEN_MODULES, f"{path.name} imports {name}"
        assert not any(name == r or name.startswith(r + ".") for r in FORBIDDEN_ROOMS), (
            f"{path.name} imports {name}"
        )
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            assert (node.value.id, node.attr) not in FORBIDDEN_CALLS, (
                f"{path.name} calls {node.value.id}.{node.attr}"
            )


def test_boundary_check_sees_a_violation(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("import socket\nimport os\nx = os.urandom(8)\n")
    tree = ast.parse(bad.read_text())
    assert "socket" in set(_imports(tree))
