"""Real LuCI on the whole-router world, and an owner's steps in it with headless Chromium.

uhttpd serves LuCI (luci-base, the bootstrap theme and luci-app-ikev2d as opkg installed it)
on the router's LAN address; a relay (testbed.relay) carries the browser's connections in
from wherever Chromium runs (outside the VM: tests/wholerouter/run) and re-opens them on the
LAN host, so the router sees a LAN client through fw4. The steps click what an owner clicks.
Plain library code, no pytest.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

from testbed.browser import Browser
from testbed.relay import TcpRelay
from testbed.topology import ROUTER_LAN
from testbed.world import World

__all__ = ["LUCI_PASSWORD", "Luci", "serve_luci"]

LUCI_PASSWORD = "luci-test-password-7"  # root's LuCI login, only inside the test's router
VIEWS = "/cgi-bin/luci/admin/vpn/ikev2d"
UHTTPD_LUCI = ("-h", "/www", "-x", "/cgi-bin", "-o", "/cgi-bin/luci",
               "-O", "/usr/share/ucode/luci/uhttpd.uc")  # fmt: skip


# The widgets of the server section's options, whichever config holds the option (the key is
# in ikev2d_secrets): LuCI names a text input by id, a checkbox by data-widget-id.
def _input(option: str) -> str:
    return f'[id^="widget.cbid."][id$=".server.{option}"]'


def _checkbox(option: str) -> str:
    return f'[data-widget-id^="widget.cbid."][data-widget-id$=".server.{option}"]'


@contextlib.contextmanager
def serve_luci(world: World) -> Iterator[str]:
    """LuCI up on the router, reachable by the browser; yields the URL the browser opens.
    LUCI_LISTEN (HOST:PORT, default an ephemeral port on loopback) is where the relay listens
    in this network namespace, LUCI_URL the same place as the browser sees it."""
    router = world.openwrt
    router.add_login("root", LUCI_PASSWORD)
    router.start_uhttpd(*UHTTPD_LUCI, listen=f"{ROUTER_LAN}:80")
    host, port = os.environ.get("LUCI_LISTEN", "127.0.0.1:0").rsplit(":", 1)
    with TcpRelay((host, int(port)), world.topo.lan, (ROUTER_LAN, 80)) as relay:
        yield os.environ.get("LUCI_URL") or f"http://{relay.address[0]}:{relay.address[1]}"


class Luci:
    """The browser on LuCI at `url`: the steps of the tests and screenshots."""

    def __init__(self, browser: Browser, url: str) -> None:
        self.browser = browser
        self.url = url.rstrip("/")

    def login(self, password: str = LUCI_PASSWORD) -> None:
        b = self.browser
        b.goto(f"{self.url}/cgi-bin/luci/")
        b.fill("#luci_password", password)
        b.click(".cbi-button-positive")
        b.wait_for("#topmenu a.menu")  # the theme's menu: logged in
        # the login page itself answers 403 and asks uci without a session: not a problem
        b.problems()

    def open_from_menu(self) -> None:
        """VPN -> IKEv2 Server, through the theme's menu as an owner clicks it."""
        b = self.browser
        b.click('#topmenu a.menu:text-is("VPN")')
        b.click('#topmenu a:text-is("IKEv2 Server")')
        b.wait_view()

    def open(self, page: str) -> None:
        """settings or status, by URL."""
        self.browser.goto(f"{self.url}{VIEWS}/{page}")
        self.browser.wait_view()

    def tab(self, name: str) -> None:
        """A tab of the settings form (general, auth, network, proposals, advanced)."""
        self.browser.click(f'.cbi-tabmenu li[data-tab="{name}"] a')

    def set_psk_and_enable(self, psk: str) -> None:
        b = self.browser
        self.tab("general")
        b.check(_checkbox("enabled"))
        self.tab("auth")
        b.fill(_input("psk"), psk)

    def stored_psk(self) -> str:
        """The key the settings form shows (after loading it from the router)."""
        self.tab("auth")
        return self.browser.value(_input("psk"))

    def save_and_apply(self) -> None:
        """Save & Apply, and wait until LuCI confirmed the change (else rpcd rolls it back)."""
        b = self.browser
        b.click(".cbi-page-actions .cbi-button-apply")
        b.wait_text("Configuration changes applied", timeout=180)

    def state_text(self) -> str:
        return self.browser.text("#ikev2d-state") or ""

    def client_rows(self) -> list[list[str]]:
        """Cells of each connection row of the status page's table."""
        return self.browser.rows("#ikev2d-clients tr[data-connection]")

    def disconnect_first(self) -> None:
        b = self.browser
        b.click("#ikev2d-clients tr[data-connection] .cbi-button-remove")
        b.click(".modal .cbi-button-negative")
