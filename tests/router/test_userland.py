"""The router namespace itself: OpenWrt's paths are real and its daemons answer."""

from __future__ import annotations


def test_openwrt_paths_are_real(router):
    out = router.sh(
        "readlink /proc/$$/exe; ls /sbin/uci /lib/functions.sh /lib/functions/procd.sh "
        "/etc/rc.common /usr/share/libubox/jshn.sh /var/run/ubus/ubus.sock"
    ).stdout
    assert out.splitlines()[0].endswith("busybox")  # /bin/sh is ash, as on a router
    assert "/var/run/ubus/ubus.sock" in out


def test_daemons_serve_their_ubus_objects(router):
    objects = router.run(["ubus", "list"]).stdout.split()
    assert {"service", "session", "uci", "file", "system"} <= set(objects)


def test_procd_runs_an_init_script_instance(router):
    router.write(
        "/etc/init.d/demo",
        "#!/bin/sh /etc/rc.common\nUSE_PROCD=1\nSTART=50\n"
        "start_service() {\n\tprocd_open_instance\n\tprocd_set_param command /bin/sleep 600\n"
        "\tprocd_close_instance\n}\n",
        0o755,
    )
    router.sh("/etc/init.d/demo enable && /etc/init.d/demo start")
    instance = router.ubus("service", "list", {"name": "demo"})["demo"]["instances"]["instance1"]
    assert instance["running"] and instance["command"] == ["/bin/sleep", "600"]
    assert router.sh("/etc/init.d/demo status").stdout.strip() == "running"
    assert router.exists("/etc/rc.d/S50demo")


def test_syslog_keeps_facility_and_level(router):
    router.sh("logger -t demo -p daemon.warn careful; logger -t demo -p daemon.err broken")
    router.wait_log(lambda line: line.text == "broken")
    assert [(line.priority, line.text) for line in router.log() if line.tag == "demo"] == [
        ("daemon.warn", "careful"),
        ("daemon.err", "broken"),
    ]


def test_fw4_loads_its_ruleset_with_the_zones_netifd_reports(router):
    ruleset = router.run(["nft", "list", "table", "inet", "fw4"]).stdout
    assert 'iifname "br-lan" jump input_lan' in ruleset
    assert 'iifname "wan" jump input_wan' in ruleset


def test_rpcd_sessions_follow_the_login_acl(router):
    router.add_login("viewer", "s3cret pass", read="unauthenticated", write="")
    sid = router.login("viewer", "s3cret pass")
    access = router.ubus(
        "session",
        "access",
        {"ubus_rpc_session": sid, "scope": "ubus", "object": "session", "function": "access"},
    )
    assert access == {"access": True}  # unauthenticated.json grants session/access
    allowed = router.ubus_session(sid, "session", "access", {"scope": "ubus"})
    assert allowed["result"][0] == 0
    denied = router.ubus_session(sid, "service", "list")
    assert denied["error"]["code"] == -32002  # uhttpd: access denied by the session's ACL
