"""ikev2d's firewall openings under real fw4 (ucode) and real nftables in the namespace: they
exist exactly while the daemon runs, nothing else of the firewall changes, and a change of the
sockets leaves daemon and firewall agreeing."""

from __future__ import annotations

import pytest

from testbed import wait_until
from testbed.openwrt_service import (
    enable,
    ikev2d_rules,
    listening,
    other_rules,
    uci_commit,
    wait_rules,
    wait_serving,
    wait_stopped,
)

RULES = 7  # udp 500, udp 4500, esp, dns (tcp + udp), pool -> lan, no masquerade to the pool


def test_rules_exist_exactly_while_the_daemon_runs(installed):
    baseline = other_rules(installed)
    assert ikev2d_rules(installed) == []  # installed, not enabled: nothing open

    enable(installed)
    rules = wait_rules(installed, RULES)
    assert any("udp dport 500 " in r for r in rules) and any("udp dport 4500 " in r for r in rules)

    installed.run(["/etc/init.d/ikev2d", "stop"])
    wait_stopped(installed)
    wait_rules(installed, 0)

    installed.run(["/etc/init.d/ikev2d", "start"])
    wait_serving(installed)
    wait_rules(installed, RULES)

    uci_commit(installed, {"enabled": "0"})  # LuCI: untick Enabled, Save & Apply
    wait_stopped(installed)
    wait_rules(installed, 0)

    uci_commit(installed, {"enabled": "1"})
    wait_serving(installed)
    wait_rules(installed, RULES)

    installed.run(["/etc/init.d/ikev2d", "disable"])
    installed.run(["/etc/init.d/ikev2d", "stop"])
    wait_rules(installed, 0)
    assert other_rules(installed) == baseline  # nothing else of the firewall changed


def test_masquerade_adds_its_two_rules_and_takes_them_away(installed):
    enable(installed)
    wait_rules(installed, RULES)
    uci_commit(installed, {"masquerade": "1"})
    rules = wait_rules(installed, RULES + 2)
    assert any("masquerade" in r for r in rules)
    uci_commit(installed, {"masquerade": "0"})
    wait_rules(installed, RULES)


@pytest.mark.parametrize(
    ("option", "value", "socket", "rule"),
    [
        ("port", "5500", "0.0.0.0:5500", "udp dport 5500 "),
        ("natt_port", "4600", "0.0.0.0:4600", "udp dport 4600 "),
    ],
)
def test_a_port_change_moves_daemon_and_firewall_together(installed, option, value, socket, rule):
    pid = enable(installed)
    wait_rules(installed, RULES)
    uci_commit(installed, {option: value})
    wait_until(lambda: socket in listening(installed), 30, what=f"daemon listening on {socket}")
    rules = wait_until(
        lambda: (found := ikev2d_rules(installed)) and any(rule in r for r in found) and found,
        20,
        what=f"firewall rule {rule!r}",
    )
    old = "udp dport 500 " if option == "port" else "udp dport 4500 "
    assert not any(old in r for r in rules)
    assert wait_serving(installed)  # a new daemon (the sockets need a restart) is serving
    assert pid not in installed.pidof("python")


def test_a_listen_change_rebinds_the_daemon(installed):
    enable(installed)
    uci_commit(installed, {"listen": ["203.0.113.2"]})
    wait_until(
        lambda: listening(installed) == {"203.0.113.2:500", "203.0.113.2:4500"},
        30,
        what="daemon bound to the new listen address only",
    )
    wait_rules(installed, RULES)


def test_ipv6_pool_gets_its_rules_from_the_ula_prefix_and_is_masqueraded(installed):
    """pool6 left unset on a router with a ULA prefix: the daemon's check derives it (the last
    /64) and the init script opens DNS and the LAN for it; with masquerade its IPv6 is
    masqueraded too (a ULA pool), and with pool6 off all of that goes."""
    ula = "\nconfig globals 'globals'\n\toption ula_prefix 'fd12:3456:789a::/48'\n"
    installed.write("/etc/config/network", installed.read("/etc/config/network") + ula)
    enable(installed)
    rules = wait_rules(installed, RULES + 4)  # DNS (tcp + udp), pool6 -> lan, no masquerade
    pool6 = "fd12:3456:789a:ffff::/64"
    assert sum(f"ip6 saddr {pool6}" in r for r in rules) == 3, rules
    assert any(f"ip6 daddr {pool6}" in r for r in rules), rules
    uci_commit(installed, {"masquerade": "1"})
    rules = wait_rules(installed, RULES + 4 + 2 + 2)
    assert any(f"ip6 saddr {pool6}" in r and "masquerade" in r for r in rules), rules
    uci_commit(installed, {"pool6": "off"})
    rules = wait_rules(installed, RULES + 2)
    assert not any("ip6" in r for r in rules), rules
