"""The LuCI views, loaded for real in Node (tests/luci/*.test.js), and the generated schema."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
VIEWS = ROOT / "luci-app/htdocs/luci-static/resources/view/ikev2d"


@pytest.mark.parametrize("test_file", sorted(p.name for p in HERE.glob("*.test.js")))
def test_node_view_tests(test_file):
    node = shutil.which("node")
    assert node, "node (>= 18) is needed for the LuCI view tests"
    proc = subprocess.run(
        [node, "--test", str(HERE / test_file)], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-2000:]
    assert re.search(r"^# fail 0$", proc.stdout, re.M), proc.stdout[-3000:]
    assert not re.search(r"^# pass 0$", proc.stdout, re.M)


def test_generated_files_are_current():
    """schema.js, the .pot and docs/configuration.md are what `make generate` writes."""
    proc = subprocess.run(
        [sys.executable, str(ROOT / "scripts/generate.py"), "--check"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr


def test_menu_and_acl_match_the_views():
    share = ROOT / "luci-app/root/usr/share"
    menu = json.loads((share / "luci/menu.d/luci-app-ikev2d.json").read_text())
    paths = {v["action"]["path"] for v in menu.values() if v["action"]["type"] == "view"}
    assert paths == {f"ikev2d/{p.stem}" for p in VIEWS.glob("*.js")}
    acl = json.loads((share / "rpcd/acl.d/luci-app-ikev2d.json").read_text())["luci-app-ikev2d"]
    used = set()
    for view in VIEWS.glob("*.js"):
        used |= set(re.findall(r"object: 'ikev2d', method: '(\w+)'", view.read_text()))
    # every call a view makes is granted, and nothing a view never calls; status is readable
    # by a read-only user, everything that acts or reveals a secret (profile) needs write
    assert acl["read"]["ubus"] == {"ikev2d": ["status"]}
    assert set(acl["read"]["ubus"]["ikev2d"]) | set(acl["write"]["ubus"]["ikev2d"]) == used
    # the secrets config only with write access (which LuCI needs to read it, too); rpcd
    # grants a list under "read" the read function, a table its functions as listed
    assert acl["read"]["uci"] == ["ikev2d"]
    assert acl["write"]["uci"] == {"ikev2d": ["write"], "ikev2d_secrets": ["read", "write"]}


APP_JS = sorted((ROOT / "luci-app/htdocs/luci-static/resources").rglob("*.js"))


@pytest.mark.parametrize("path", APP_JS, ids=lambda p: p.name)
def test_translated_strings_are_literals(path):
    """LuCI's i18n scanner finds only _('literal'): a string built at run time never reaches
    the .pot, so it could never be translated."""
    text = path.read_text()
    calls = re.findall(r"(?<![\w$.])_\(\s*(.)", text)
    assert set(calls) <= {"'", '"'}, f"{path.name}: _() with a non-literal argument"


@pytest.mark.parametrize("path", sorted(VIEWS.glob("*.js")), ids=lambda p: p.name)
def test_views_leave_form_internals_alone(path):
    """Options show in the order they are declared; no view reorders a section's children."""
    assert ".children" not in path.read_text()
