"""Real LuCI in headless Chromium on the whole router (issue 12): log in, VPN -> IKEv2 Server,
set a key, Save & Apply; through real rpcd, uci and procd the daemon starts and the status
page says so; a strongSwan phone connects and appears in the table; Disconnect removes it.

Run with: tests/wholerouter/run .venv/bin/python -m pytest tests/wholerouter/test_luci.py
"""

from __future__ import annotations

from testbed.openwrt_service import PSK, daemon_pid, status, wait_serving
from testbed.topology import LAN_HOST
from testbed.world import openwrt_conn

PHONE_ID = "phone1@example.test"


def test_owner_enables_the_server_in_luci_and_disconnects_a_phone(world_factory, luci_factory):
    w = world_factory(luci=True, conns=[openwrt_conn("home", PHONE_ID)])
    router = w.openwrt
    luci = luci_factory(w)
    browser = luci.browser
    luci.login()
    luci.open_from_menu()
    assert daemon_pid(router) == 0  # installed, not enabled yet

    luci.set_psk_and_enable(PSK)
    luci.save_and_apply()

    # rpcd committed it: uci holds the key (in the secrets file), procd started the daemon
    key = router.run(["uci", "-q", "get", "ikev2d_secrets.server.psk"]).stdout.strip()
    assert key == PSK
    pid = wait_serving(router, timeout=120)
    luci.open("settings")
    assert luci.stored_psk() == PSK  # shown again, so a later Save & Apply keeps it
    luci.open("status")
    browser.wait_text("Running since", selector="#ikev2d-state")

    vip = w.connect("home", timeout=60)
    ping = w.topo.phone.ping(LAN_HOST, count=1, check=False)
    assert "1 received" in ping.stdout, ping.stdout + w.logs()
    # the page polls the daemon's status every few seconds
    browser.wait_for("#ikev2d-clients tr[data-connection]")
    [row] = luci.client_rows()
    assert PHONE_ID in row[0] and any(vip in cell for cell in row), row

    luci.disconnect_first()
    browser.wait_for("#ikev2d-clients tr[data-connection]", state="detached")
    assert status(router)["clients"] == []
    w.phones[0].wait_log("received DELETE for IKE_SA home", timeout=30)
    assert daemon_pid(router) == pid  # disconnecting a phone is not a restart
    problems = browser.problems()
    assert not [p for p in problems if "/ubus" in p or "page error" in p], problems
