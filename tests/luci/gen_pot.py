"""Writes luci-app/po/templates/ikev2d.pot: every _('...') string of the views, plus the
option help texts of the generated schema (the views pass them through _())."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RES = ROOT / "luci-app/htdocs/luci-static/resources"
TARGET = ROOT / "luci-app/po/templates/ikev2d.pot"
_CALL = re.compile(r"""\b_\(\s*'((?:[^'\\]|\\.)*)'""")


def _unescape(js: str) -> str:
    return re.sub(r"\\(.)", r"\1", js)


def _po(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def strings() -> list[tuple[str, str]]:
    found: dict[str, str] = {}
    for path in sorted((RES / "view/ikev2d").glob("*.js")):
        for m in _CALL.finditer(path.read_text()):
            found.setdefault(_unescape(m.group(1)), str(path.relative_to(ROOT)))
    schema_js = (RES / "ikev2d/schema.js").read_text()
    schema = json.loads(schema_js[schema_js.index("{ schema: ") + 10 : schema_js.rindex("});")])
    for o in schema["options"]:
        title = o["name"].replace("_", " ")
        found.setdefault(title[:1].upper() + title[1:], "ikev2d/schema.js")
        found.setdefault(o["help"], "ikev2d/schema.js")
    return sorted(found.items())


def render() -> str:
    out = ['msgid ""', 'msgstr "Content-Type: text/plain; charset=UTF-8"', ""]
    for msgid, where in strings():
        out += [f"#: {where}", f"msgid {_po(msgid)}", 'msgstr ""', ""]
    return "\n".join(out)


if __name__ == "__main__":
    TARGET.parent.mkdir(parents=True, exist_ok=True)
    TARGET.write_text(render())
    sys.exit(0)
