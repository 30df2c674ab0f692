"""ikev2d's and ikev2ctl's command lines: exit codes, one-line errors, human output."""

from __future__ import annotations

import json

import pytest
from daemon_support import PSK
from test_control import write_toml
from test_daemon_loop import Phone

from ikev2d.cli import _daemon_parser, _plain_daemon_args, ctl_main, daemon_main, format_bytes
from testbed.ike_initiator import vip


def config_file(tmp_path, **server):
    path = tmp_path / "c.toml"
    write_toml(
        path,
        {
            "enabled": True,
            "psk": PSK,
            "local_subnet": ["192.168.1.0/24"],
            "dns": ["192.168.1.1"],
            **server,
        },
    )
    return str(path)


@pytest.mark.parametrize(
    ("server", "start"),
    [
        ({"pool": "10.10.10.0/33"}, "server.pool: '10.10.10.0/33'"),
        ({"port": 0}, "server.port: 0"),
        ({"prot": 500}, "server.prot: is not a known option, did you mean 'port'?"),
    ],
)
def test_a_bad_config_is_one_line_and_exit_2(tmp_path, capsys, server, start):
    path = config_file(tmp_path, **server)
    assert daemon_main(["--config", path]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.startswith(start) and err.count("\n") == 1
    assert daemon_main(["--config", path, "--check"]) == 2
    out, err = capsys.readouterr()
    assert out.startswith(start) and out.count("\n") == 1  # --check: problems on stdout


def test_check_names_every_bad_option_one_line_each_and_records_them(tmp_path, capsys):
    path = config_file(tmp_path, pool="10.10.10.0/33", port=0, prot=500)
    refused = tmp_path / "refused.json"
    assert daemon_main(["--config", path, "--check", "--refused-status", str(refused)]) == 2
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in lines] == ["server.pool", "server.port", "server.prot"]
    recorded = json.loads(refused.read_text())
    assert recorded["reason"] == "config_error" and recorded["problems"] == lines


def test_eap_config_checks_without_printing_passwords(tmp_path, capsys):
    path = config_file(tmp_path, auth_mode="eap")
    with open(path, "a") as f:
        f.write('[[user]]\nname = "alice"\npassword = "a long enough password 1"\n')
    assert daemon_main(["--config", path, "--check"]) == 0
    out, err = capsys.readouterr()
    assert "configuration OK" in err and "a long enough password" not in out + err


def test_unreadable_and_invalid_toml(tmp_path, capsys):
    assert daemon_main(["--config", str(tmp_path / "missing.toml")]) == 2
    assert "missing.toml: cannot read" in capsys.readouterr().err
    bad = tmp_path / "bad.toml"
    bad.write_text("[server\n")
    assert daemon_main(["--config", str(bad), "--check"]) == 2
    out = capsys.readouterr().out
    assert "not valid TOML" in out and out.count("\n") == 1


def test_check_of_a_good_config_prints_warnings_only(tmp_path, capsys):
    assert daemon_main(["--config", config_file(tmp_path), "--check"]) == 0
    out, err = capsys.readouterr()
    assert out == "" and "configuration OK" in err
    weak = config_file(tmp_path, psk="Xyzzy42", allow_weak_psk=True)
    assert daemon_main(["--config", weak, "--check"]) == 0
    out, _ = capsys.readouterr()
    assert out.startswith("warning: server.psk") and "Xyzzy42" not in out


def test_check_prints_what_the_init_script_needs_with_the_defaults(tmp_path, capsys):
    assert daemon_main(["--config", config_file(tmp_path), "--check", "--firewall"]) == 0
    out, _ = capsys.readouterr()
    assert out.splitlines() == [
        "firewall: wan_interface wan",
        "firewall: port 500",
        "firewall: natt_port 4500",
        "firewall: pool 10.10.10.0/24",
        "firewall: pool6 off",
        "firewall: masquerade 0",
        "firewall: masquerade6 0",
        "firewall: restart listen=0.0.0.0,:: port=500 natt_port=4500 "
        "control_socket=/var/run/ikev2d/control.sock state_dir=/var/run/ikev2d",
    ]
    moved = config_file(tmp_path, port=1500, natt_port=14500, wan_interface="wwan",
                        listen=["192.0.2.1"], state_dir="/run/x")  # fmt: skip
    assert daemon_main(["--config", moved, "--check", "--firewall"]) == 0
    out, _ = capsys.readouterr()
    assert "firewall: wan_interface wwan\nfirewall: port 1500\nfirewall: natt_port 14500\n" in out
    assert "firewall: restart listen=192.0.2.1 port=1500 natt_port=14500 " in out
    assert "control_socket=/run/x/control.sock state_dir=/run/x\n" in out
    ula = config_file(tmp_path, pool6="fd00:99::/64", masquerade=True)
    assert daemon_main(["--config", ula, "--check", "--firewall"]) == 0
    out, _ = capsys.readouterr()
    assert "firewall: pool6 fd00:99::/64\nfirewall: masquerade 1\nfirewall: masquerade6 1\n" in out
    routed = config_file(tmp_path, pool6="2001:db8:99::/64", masquerade=True)
    assert daemon_main(["--config", routed, "--check", "--firewall"]) == 0
    assert "firewall: masquerade6 0" in capsys.readouterr()[0]  # the internet routes it


def test_uci_config_is_read(tmp_path, capsys):
    uci = tmp_path / "ikev2d"
    uci.write_text(
        "config ikev2d 'server'\n\toption enabled '1'\n\toption psk '" + PSK + "'\n"
        "\toption pool '10.10.10.0/40'\n"
    )
    network = tmp_path / "network"
    network.write_text("config interface 'lan'\n\toption ipaddr '192.168.1.1/24'\n")
    assert daemon_main(["--uci", str(uci), "--network", str(network), "--check"]) == 2
    assert capsys.readouterr().out.startswith("server.pool: '10.10.10.0/40'")


def test_a_disabled_config_does_not_start(tmp_path, capsys):
    run = tmp_path / "run"
    assert daemon_main(["--config", config_file(tmp_path, enabled=False, state_dir=str(run))]) == 0
    assert "disabled" in capsys.readouterr().err
    assert json.loads((run / "status.json").read_text())["reason"] == "disabled"


def test_help_documents_exit_codes(capsys):
    for main in (daemon_main, ctl_main):
        with pytest.raises(SystemExit) as stop:
            main(["--help"])
        assert stop.value.code == 0
        assert "exit status:" in capsys.readouterr().out


def _daemon_options():
    """(option, takes a value) of every option of ikev2d's argparse parser but help/version."""
    actions = [a for a in _daemon_parser()._actions if a.dest not in ("help", "version")]
    return [(a.option_strings[-1], a.nargs is None) for a in actions]


def _plain_command_lines():
    """Every option alone, with --config and with --uci, and all of them together."""
    options = _daemon_options()
    words = {name: [name, f"/some/{name[2:]}"] if value else [name] for name, value in options}
    lines = [[]]
    for name, _value in options:
        lines.append(words[name])
        for source in ("--config", "--uci"):
            if name not in ("--config", "--uci"):
                lines += [[*words[source], *words[name]], [*words[name], *words[source]]]
    lines.append([w for name, _value in options if name != "--uci" for w in words[name]])
    return lines


@pytest.mark.parametrize("argv", _plain_command_lines(), ids=" ".join)
def test_the_daemons_plain_command_lines_read_as_argparse_reads_them(argv):
    assert vars(_plain_daemon_args(argv)) == vars(_daemon_parser().parse_args(argv))


@pytest.mark.parametrize(
    "argv",
    [
        ["--help"],
        ["--version"],
        ["--conf", "c.toml"],  # an abbreviation argparse accepts
        ["--config=c.toml"],
        ["--config", "a.toml", "--config", "b.toml"],
        ["--config", "c.toml", "--uci", "u"],  # argparse: not allowed with
        ["--config"],
        ["--config", "--check"],
        ["--check", "extra"],
        ["--bogus"],
    ],
    ids=" ".join,
)
def test_anything_else_is_left_to_argparse(argv):
    assert _plain_daemon_args(argv) is None


def test_ctl_when_the_daemon_is_not_running(tmp_path, capsys):
    assert ctl_main(["--socket", str(tmp_path / "none.sock"), "status"]) == 1
    assert "ikev2d is not running" in capsys.readouterr().err


def test_ctl_against_a_running_daemon(start_daemon, capsys):
    d = start_daemon()
    sock = ["--socket", d.config.control_socket]
    assert ctl_main([*sock, "status"]) == 0
    assert "no clients connected" in capsys.readouterr().out
    phone = Phone(d.ike)
    address = str(vip(phone.connect()))
    assert ctl_main([*sock, "status"]) == 0
    out = capsys.readouterr().out
    assert "IDENTITY" in out and "phone@example.test" in out and address in out
    assert "aes256-sha256-modp2048 / aes256-sha256" in out
    assert ctl_main([*sock, "clients", "--json"]) == 0
    (client,) = json.loads(capsys.readouterr().out)
    assert client["virtual_ip"] == address
    assert ctl_main([*sock, "disconnect", "nobody"]) == 1
    assert "no connected client matches 'nobody'" in capsys.readouterr().err
    assert client["id"] in out  # the status table names each connection
    assert ctl_main([*sock, "disconnect", "--id", "0000000000000001"]) == 1
    assert "no connection '0000000000000001'" in capsys.readouterr().err
    assert ctl_main([*sock, "disconnect", "--id", client["id"]]) == 0
    assert "disconnected: phone@example.test" in capsys.readouterr().out
    assert ctl_main([*sock, "disconnect", "phone@example.test"]) == 1  # gone already
    capsys.readouterr()
    assert ctl_main([*sock, "reload"]) == 1  # started without a file to re-read
    assert "without a configuration file" in capsys.readouterr().err
    phone.close()


def test_format_bytes():
    assert [format_bytes(n) for n in (0, 1023, 1024, 5 * 1024**2)] == [
        "0 B",
        "1023 B",
        "1.0 KiB",
        "5.0 MiB",
    ]
