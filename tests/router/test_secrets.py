"""Secrets and LuCI's ACL with real rpcd sessions (JSON-RPC through uhttpd, as LuCI calls):
a read-only user sees the status, never the PSK or a password; the migration of older
configurations with OpenWrt's own uci; a changed key alone reloads the daemon."""

from __future__ import annotations

import pytest

from testbed.openwrt_service import PSK, install_opkg, rpcd_call, status, wait_serving
from testbed.paths import PROJECT
from testbed.routerns import RouterNamespace

PASSWORD = 'alice long "password" 7'


@pytest.fixture
def luci_router(tree, packages, tmp_path):
    """A router with LuCI's base (its rpcd ACLs) and both packages installed by opkg."""
    with RouterNamespace(tmp_path, tree, layers=[tree / "luci-root"]) as ns:
        ns.boot()
        ns.network()
        install_opkg(ns, packages)
        yield ns


def _set(router, config: str, section: str, values: dict, section_type: str | None = None):
    if section_type:
        rpcd_call(router, "uci", "add", {"config": config, "type": section_type, "name": section})
    rpcd_call(router, "uci", "set", {"config": config, "section": section, "values": values})


def _configure(router) -> None:
    """A server with a key and a user, set through rpcd's uci as LuCI's Save & Apply does."""
    _set(router, "ikev2d_secrets", "server", {"psk": PSK})
    _set(router, "ikev2d_secrets", "user_1a2b3c4d", {"password": PASSWORD}, "user")
    _set(router, "ikev2d", "user_1a2b3c4d", {"name": "alice"}, "user")
    _set(router, "ikev2d", "server", {"enabled": "1", "server_address": "vpn.example.test"})
    rpcd_call(router, "uci", "commit", {"config": "ikev2d_secrets"})
    rpcd_call(router, "uci", "commit", {"config": "ikev2d"})


def test_a_read_only_luci_user_sees_the_status_but_no_secret(luci_router):
    router = luci_router
    _configure(router)
    wait_serving(router)
    router.add_login("viewer", "viewer pass 1", read="luci-*", write="")
    router.add_login("owner", "owner pass 1", read="luci-*", write="luci-*")
    viewer = router.login("viewer", "viewer pass 1")
    owner = router.login("owner", "owner pass 1")

    seen = router.ubus_session(viewer, "ikev2d", "status")
    assert seen["result"][0] == 0 and seen["result"][1]["running"] is True
    config = router.ubus_session(viewer, "uci", "get", {"config": "ikev2d"})
    assert config["result"][0] == 0
    values = config["result"][1]["values"]
    assert values["user_1a2b3c4d"]["name"] == "alice"
    text = repr(values)
    assert PSK not in text and PASSWORD not in text
    assert "psk" not in values["server"] and "password" not in values["user_1a2b3c4d"]
    denied = router.ubus_session(viewer, "uci", "get", {"config": "ikev2d_secrets"})
    assert denied["result"] == [6]  # UBUS_STATUS_PERMISSION_DENIED
    # the profile carries the key: write access only
    assert (
        router.ubus_session(viewer, "ikev2d", "profile", {"platform": "ios"})["error"]["code"]
        == -32002
    )
    changed = router.ubus_session(viewer, "uci", "set", {"config": "ikev2d_secrets",
                                  "section": "server", "values": {"psk": "x"}})  # fmt: skip
    assert changed.get("result", [None])[0] != 0

    # the owner (write access) reads and sets them, as the settings page does
    secrets = router.ubus_session(owner, "uci", "get", {"config": "ikev2d_secrets"})
    assert secrets["result"][1]["values"]["server"]["psk"] == PSK
    profile = router.ubus_session(owner, "ikev2d", "profile", {"platform": "ios", "user": "x"})
    assert profile["result"][0] == 0 and profile["result"][1]["ok"] is True


def test_changing_only_the_key_reloads_the_daemon(luci_router):
    router = luci_router
    _configure(router)
    pid = wait_serving(router)
    mark = len(router.log())
    _set(router, "ikev2d_secrets", "server", {"psk": PSK + " changed"})
    rpcd_call(router, "uci", "commit", {"config": "ikev2d_secrets"})
    router.wait_log(lambda line: "reload: configuration reloaded" in line.text)
    assert status(router)["pid"] == pid
    assert not [line for line in router.log()[mark:] if "can be read by read-only" in line.text]


OLD_CONFIG = f"""
config ikev2d 'server'
	option enabled '1'
	option psk '{PSK}'

config user
	option name 'alice'
	option password '{PASSWORD}'

config user 'bob_named'
	option name 'bob'
	option password 'bob password 22'

config user
	option name 'carol'
"""


def test_the_migration_moves_secrets_out_of_the_readable_config(luci_router):
    """A configuration from before the secrets file, migrated by the package's uci-defaults
    script with OpenWrt's uci: same server, no secret left where read-only users look."""
    router = luci_router
    router.write("/etc/config/ikev2d", OLD_CONFIG, 0o600)
    router.run(["rm", "-f", "/etc/config/ikev2d_secrets"])
    before = router.run(["/usr/sbin/ikev2d", "--uci", "/etc/config/ikev2d", "--check"])
    assert "can be read by read-only LuCI users" in before.stdout
    script = (PROJECT / "files/etc/uci-defaults/80-ikev2d-secrets").read_text()
    router.write("/tmp/80-ikev2d-secrets", script, 0o755)
    for _ in range(2):  # a second run changes nothing
        router.run(["/bin/sh", "/tmp/80-ikev2d-secrets"])
        main = router.run(["uci", "show", "ikev2d"]).stdout
        secrets = router.run(["uci", "show", "ikev2d_secrets"]).stdout
        assert PSK not in main and PASSWORD not in main and "password" not in main
        assert f"ikev2d_secrets.server.psk='{PSK}'" in secrets
        assert "ikev2d_secrets.bob_named.password='bob password 22'" in secrets
        assert "ikev2d.user_0=user" in main and "ikev2d.user_0.name='alice'" in main
        assert f"ikev2d_secrets.user_0.password='{PASSWORD}'" in secrets
        assert "ikev2d.user_1.name='carol'" in main  # named too, without a secret
        assert "user_1" not in secrets
    assert oct(router.host("/etc/config/ikev2d_secrets").stat().st_mode & 0o777) == "0o600"
    after = router.run(["/usr/sbin/ikev2d", "--uci", "/etc/config/ikev2d", "--check"])
    assert "warning" not in after.stdout, after.stdout


def test_check_sees_what_save_and_apply_would_commit(luci_router):
    """LuCI saves (stages) changes in the session, then asks `check` before applying: the
    check must see the staged values of both files, not only what is on disk."""
    router = luci_router
    _configure(router)
    router.add_login("owner", "owner pass 1", read="luci-*", write="luci-*")
    owner = router.login("owner", "owner pass 1")
    assert router.ubus_session(owner, "ikev2d", "check")["result"][1]["result"]["valid"] is True
    staged = {"config": "ikev2d", "section": "server", "values": {"pool": "10.10.10.5/24"}}
    assert router.ubus_session(owner, "uci", "set", staged)["result"] == [0]
    key = {"config": "ikev2d_secrets", "section": "server", "values": {"psk": "short"}}
    assert router.ubus_session(owner, "uci", "set", key)["result"] == [0]
    check = router.ubus_session(owner, "ikev2d", "check")["result"][1]["result"]
    assert check["valid"] is False
    assert check["problems"][0].startswith("server.pool: '10.10.10.5/24' has host bits set")
    router.ubus_session(owner, "uci", "set", {**staged, "values": {"pool": "10.10.10.0/24"}})
    check = router.ubus_session(owner, "ikev2d", "check")["result"][1]["result"]
    assert check["problems"] == [  # the staged key, from the other file
        "server.psk: <hidden> is shorter than 20 characters (allowed: at least 20 characters, "
        "not easily guessed (or set allow_weak_psk))"
    ]
    # nothing was committed: the files on disk are as they were, and so is their check
    assert "10.10.10.5" not in router.read("/etc/config/ikev2d")
    other = router.login("owner", "owner pass 1")  # another session has no staged changes
    assert router.ubus_session(other, "ikev2d", "check")["result"][1]["result"]["valid"] is True
