"""Both .ipk under OpenWrt 24.10's package manager (opkg-lede): into an image the way the image
builder does, live, upgraded over an edited configuration and a PKI, and removed."""

from __future__ import annotations

import hashlib

from testbed import wait_until
from testbed.openwrt_pkg import build_image_opkg, opkg, opkg_setup, put_packages
from testbed.openwrt_service import (
    CONFIG,
    PSK,
    enable,
    ikev2d_rules,
    install_opkg,
    instance,
    rpcd_call,
    wait_rules,
    wait_serving,
    wait_stopped,
)
from testbed.routerns import RouterNamespace

# what the package manager and the router write besides the package's own files
BOOKKEEPING = ("/usr/lib/opkg/", "/etc/uci-defaults", "/etc/opkg.conf")


def _files(router) -> dict[str, str]:
    """Every file written inside the router since it started (its overlay's upper layer),
    as path -> sha256 (links: their target; deletions show as whiteouts)."""
    script = (
        "cd /overlay/upper && find . \\( -type f -o -type l -o -type c \\) | sort"
        ' | while read -r f; do p="${f#.}"; if [ -L "$f" ]; then echo "$p -> $(readlink "$f")";'
        ' elif [ -c "$f" ]; then echo "$p deleted";'
        ' else echo "$p $(sha256sum < "$f" | cut -c1-16)"; fi; done'
    )
    out = router.sh(script, timeout=120).stdout
    return dict(line.split(" ", 1) for line in out.splitlines())


def _configs(router) -> dict[str, str]:
    """Every UCI config as `uci show` prints it (default_postinst's `uci commit` rewrites the
    files of all configs: their text changes, their content must not)."""
    names = router.run(["ls", "/etc/config"]).stdout.split()
    return {f"/etc/config/{n}": router.run(["uci", "show", n], check=False).stdout for n in names}


def _left_behind(router, before: dict[str, str], configs: dict[str, str]) -> set[str]:
    """Files added or changed since `before`, minus package-manager bookkeeping and configs
    whose content is unchanged."""
    after, configs_now = _files(router), _configs(router)
    changed = {f for f in after if before.get(f) != after[f] and not f.startswith(BOOKKEEPING)}
    return {f for f in changed if f not in configs or configs_now.get(f) != configs[f]}


def test_image_builder_install_then_first_boot(router, packages, tree, tmp_path):
    """rootfs.mk: opkg into an offline root with IPKG_NO_SCRIPT, postinst with IPKG_INSTROOT
    (nothing starts, uci-defaults wait for the first boot), init scripts enabled. Then that
    image boots: uci-defaults run once, the service comes up (off until a key is set)."""
    image = tmp_path / "image"
    image.mkdir()
    with RouterNamespace(tmp_path / "builder", tree, binds={"/image": image}) as builder:
        # base-files of the image: what the maintainer scripts source
        builder.sh(
            "mkdir -p /image/lib /image/etc /image/usr/share/libubox"
            " && cp -a /lib/functions.sh /lib/functions /image/lib/"
            " && cp /usr/share/libubox/jshn.sh /image/usr/share/libubox/"
            " && cp /etc/rc.common /image/etc/ && cp -a /etc/config /image/etc/"
        )
        opkg_setup(builder, packages.stand_ins, root="/image")
        ipks = put_packages(builder, [packages.ipk["ikev2d"], packages.ipk["luci-app-ikev2d"]])
        build_image_opkg(builder, "/image", ipks)
    assert (image / "usr/lib/ikev2d/ikev2d/cli.pyc").is_file()
    assert (image / "etc/rc.d/S90ikev2d").is_symlink()
    assert (image / "etc/uci-defaults/90-ikev2d-dnsmasq").is_file()  # runs at first boot
    assert not list((image / "usr/lib/opkg/info").glob("*.postinst"))  # rootfs.mk drops them
    status = (image / "usr/lib/opkg/status").read_text()
    assert "Package: ikev2d\n" in status and "Package: luci-app-ikev2d\n" in status

    with RouterNamespace(tmp_path / "booted", tree, layers=[image]) as booted:
        booted.boot()
        booted.network()
        booted.first_boot()
        assert not booted.exists("/etc/uci-defaults/90-ikev2d-dnsmasq")
        booted.wait_log(lambda line: line.tag == "ikev2d" and "disabled" in line.text)
        assert "ikev2d - 0.1.0" in opkg(booted, "list-installed").stdout
        booted.wait_object("ikev2d")
        assert enable(booted)


def test_live_install_sets_up_everything(installed):
    assert installed.exists("/usr/lib/ikev2d/ikev2d/cli.pyc")
    assert not installed.exists("/usr/lib/ikev2d/ikev2d/cli.py")
    assert installed.exists("/etc/rc.d/S90ikev2d")
    assert not installed.exists("/etc/uci-defaults/90-ikev2d-dnsmasq")  # ran, then removed
    assert installed.exists("/usr/share/luci/menu.d/luci-app-ikev2d.json")
    assert installed.exists("/www/luci-static/resources/view/ikev2d/status.js")
    installed.wait_object("ikev2d")  # rpcd loaded the plugin (its postinst reloaded rpcd)
    assert rpcd_call(installed, "ikev2d", "status")["running"] is False
    assert ikev2d_rules(installed) == []


def test_upgrade_keeps_the_edited_config_and_the_pki(installed, next_release):
    pid = enable(installed, port="5500")
    wait_rules(installed, 7)
    installed.run(
        ["ikev2ctl", "pki", "init", "--name", "vpn.example.test", "--key-type", "ecdsa-p256"],
        timeout=120,
    )
    pki = {
        f: hashlib.sha256(installed.host(f).read_bytes()).hexdigest()
        for f in installed.run(["find", "/etc/ikev2d", "-type", "f"]).stdout.split()
    }
    assert pki
    config = installed.read(CONFIG)
    secrets = installed.read("/etc/config/ikev2d_secrets")

    new = [next_release.ipk["ikev2d"], next_release.ipk["luci-app-ikev2d"]]
    paths = put_packages(installed, new)
    out = opkg(installed, "install", *paths).stdout
    assert "Upgrading ikev2d" in out
    assert "0.1.0-r2" in opkg(installed, "list-installed").stdout

    assert installed.read(CONFIG) == config
    assert installed.read("/etc/config/ikev2d_secrets") == secrets
    assert PSK in secrets
    for path, digest in pki.items():
        assert hashlib.sha256(installed.host(path).read_bytes()).hexdigest() == digest, path
    assert installed.exists("/etc/rc.d/S90ikev2d")  # an upgrade does not disable it
    new_pid = wait_serving(installed, old_pid=pid)  # stopped by prerm, started by postinst
    assert new_pid
    wait_until(lambda: any("dport 5500 " in r for r in ikev2d_rules(installed)), 20, what="rules")


def test_remove_leaves_only_the_edited_config(router, packages):
    before, configs = _files(router), _configs(router)
    dhcp = router.run(["uci", "show", "dhcp"]).stdout
    install_opkg(router, packages)
    enable(router)
    wait_rules(router, 7)

    opkg(router, "remove", "luci-app-ikev2d", "ikev2d")
    wait_stopped(router)
    wait_rules(router, 0)
    assert instance(router) == {}
    assert "lo:ikev2d" not in router.run(["ip", "-4", "addr", "show", "dev", "lo"]).stdout
    wait_until(lambda: not router.run(["ubus", "list", "ikev2d"], check=False).stdout, 20)

    # the owner's edits stay (opkg keeps changed conffiles); nothing else of the package
    assert _left_behind(router, before, configs) == {CONFIG, "/etc/config/ikev2d_secrets"}
    assert router.run(["uci", "show", "dhcp"]).stdout == dhcp
    assert not router.exists("/var/run/ikev2d")  # the daemon's runtime state went too


def test_remove_of_an_untouched_install_leaves_nothing(router, packages):
    before, configs = _files(router), _configs(router)
    install_opkg(router, packages)
    opkg(router, "remove", "luci-app-ikev2d", "ikev2d")
    assert _left_behind(router, before, configs) == set()
