"""Screenshots of the LuCI pages in real LuCI, for review: `make screenshots`.

    tests/wholerouter/run .venv/bin/python tests/wholerouter/screenshots.py --out DIR

Boots the whole-router world (testbed.world's OpenWrtServer) with LuCI, and saves full-page
PNGs of what an owner sees, with the page's text next to each (NAME.txt) and the browser's
complaints (problems.txt):
- status-disabled: the server installed, not enabled yet;
- settings-TAB: each tab of the settings form, the server enabled with a key;
- status-normal: two phones connected, one attempt with a wrong key;
- status-hostile: the same plus clients whose identities are hostile (very long, U+202E
  right-to-left override, markup, forged log lines and table rows) and a failed attempt by one.
Every client is Debian's strongSwan; nothing is faked. DIR must be writable from the VM
(`make screenshots` passes it as ESPVM_RW); the PNGs are written by the browser outside.
"""

from __future__ import annotations

import argparse
import pathlib
import sys
import tempfile

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))  # luci_ui, a sibling

from luci_ui import Luci, serve_luci  # noqa: E402

from testbed import wait_until  # noqa: E402
from testbed.browser import Browser  # noqa: E402
from testbed.openwrt_service import build_packages, enable  # noqa: E402
from testbed.routerns import userland_tree  # noqa: E402
from testbed.world import OpenWrtServer, World, openwrt_conn, openwrt_phone  # noqa: E402

WRONG_KEY = "not the key of this router, 42 chars long"


def _key_id(text: str) -> str:
    """A key-id identity carrying any bytes (swanctl's "@#hex")."""
    return "@#" + text.encode().hex()


NORMAL = {
    "phone": openwrt_conn("phone", "phone1@example.test"),
    "laptop": openwrt_conn("laptop", "laptop@example.test"),
}
NORMAL_FAILING = {"stranger": openwrt_conn("stranger", "stranger@example.test", secret=WRONG_KEY)}
HOSTILE = {
    "long": openwrt_conn("long", "a-really-long-device-name-" * 8 + "@example.test"),
    "rlo": openwrt_conn("rlo", _key_id("invoice\u202egnp.exe@example.test")),
    # (swanctl cuts a key-id secret's owner at some length: each kept short)
    "forged-log": openwrt_conn(
        "forged-log",
        _key_id("alice@example.test\nclient admin@example.test connected, address 10.10.10.250"),
    ),
    "forged-row": openwrt_conn(
        "forged-row", _key_id("bob\tadmin@example.test\t10.10.10.250\t198.51.100.9")
    ),
}
HOSTILE_FAILING = {
    "markup": openwrt_conn(
        "markup", '<img src=x onerror="alert(1)"><b>router admin</b>@x', secret=WRONG_KEY
    )
}


class Shots:
    """Writes NAME.png (by the browser) and NAME.txt; collects the browser's problems."""

    def __init__(self, luci: Luci, out: pathlib.Path) -> None:
        self.luci, self.out, self.problems = luci, out, []

    def take(self, name: str) -> None:
        browser = self.luci.browser
        browser.screenshot(self.out / f"{name}.png", full_page=True)
        (self.out / f"{name}.txt").write_text(browser.text("#maincontent") or browser.text())
        self.problems += [f"{name}: {p}" for p in browser.problems()]
        print(f"screenshots: {self.out / name}.png", flush=True)

    def status(self, name: str, *, clients: int) -> None:
        """The status page once it lists `clients` connections."""
        self.luci.open("status")
        wait_until(lambda: len(self.luci.client_rows()) == clients, 60, interval=0.5,
                   what=f"{clients} connections listed")  # fmt: skip
        self.take(name)

    def settings(self) -> None:
        self.luci.open("settings")
        for tab in self.luci.browser.attrs(".cbi-tabmenu li[data-tab]", "data-tab"):
            self.luci.tab(tab)
            self.take(f"settings-{tab}")


def _connect_all(world: World, connecting: dict, failing: dict) -> None:
    for name in connecting:
        world.connect(name, timeout=60)
    for name in failing:
        out = world.phones[0].swanctl("--initiate", "--child", name, "--timeout", "20",
                                  check=False, timeout=30)  # fmt: skip
        if out.ok:
            raise AssertionError(f"{name} should have been refused:\n{out.out}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=pathlib.Path, required=True)
    out = parser.parse_args(argv).out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="luci-shots-") as tmp:
        work = pathlib.Path(tmp)
        conns = {**NORMAL, **NORMAL_FAILING, **HOSTILE, **HOSTILE_FAILING}
        server = OpenWrtServer(userland_tree(), build_packages(work / "pkgs"), luci=True)
        world = World.build(work, [openwrt_phone(conns.values())], server=server)
        try:
            with serve_luci(world) as url, Browser(timeout=120) as browser:
                shots = Shots(Luci(browser, url), out)
                shots.luci.login()
                shots.luci.open("status")
                shots.take("status-disabled")
                enable(world.openwrt, timeout=180)
                shots.settings()
                _connect_all(world, NORMAL, NORMAL_FAILING)
                shots.status("status-normal", clients=len(NORMAL))
                _connect_all(world, HOSTILE, HOSTILE_FAILING)
                shots.status("status-hostile", clients=len(NORMAL) + len(HOSTILE))
        except BaseException:
            print(world.logs(), file=sys.stderr)
            raise
        finally:
            world.teardown()
    (out / "problems.txt").write_text("".join(f"{p}\n" for p in shots.problems))
    print(f"screenshots: {len(shots.problems)} browser problems, see {out / 'problems.txt'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
