"""The schema as data: JSON export, docs, and agreement with the loader."""

import json
import pathlib

import pytest

from ikev2d.policy.config import ServerConfig, UserConfig, from_mapping, load_uci
from ikev2d.policy.errors import ConfigError
from ikev2d.policy.schema import OPTIONS, option
from ikev2d.policy.schema_docs import configuration_markdown, schema_as_json

DOCS = pathlib.Path(__file__).resolve().parents[3] / "docs" / "configuration.md"
PSK = "k8#Lm2$pQ9zR4vW7nX1y"
BASE = {"enabled": True, "psk": PSK, "local_subnet": ["192.168.1.0/24"]}
SERVER_OPTIONS = [o for o in OPTIONS if o.section == "server"]


def test_docs_are_generated_from_the_schema():
    assert DOCS.read_text() == configuration_markdown(), (
        "docs/configuration.md is stale: run make generate"
    )
    for o in OPTIONS:
        assert f"| `{o.name}` |" in DOCS.read_text()


def test_model_fields_are_the_option_names():
    server_fields = set(ServerConfig.__slots__) - {"users", "warnings"}
    assert server_fields == {o.name for o in SERVER_OPTIONS}
    assert set(UserConfig.__slots__) == {o.name for o in OPTIONS if o.section == "user"}


def test_json_export_shape():
    doc = json.loads(schema_as_json())
    assert doc["config"] == "ikev2d"
    assert [s["uci_type"] for s in doc["sections"]] == ["ikev2d", "user"]
    by_name = {(o["section"], o["name"]): o for o in doc["options"]}
    assert len(by_name) == len(OPTIONS)
    assert by_name[("server", "psk")]["secret"] is True
    assert by_name[("user", "password")]["secret"] is True
    assert [k for k, o in by_name.items() if o["secret"]] == [
        ("server", "psk"),
        ("user", "password"),
    ]
    assert by_name[("server", "enabled")]["uci_default"] == "0"
    assert by_name[("server", "ike_proposal")]["list"] is True
    assert by_name[("server", "pool")]["min"] == 8 and by_name[("server", "pool")]["max"] == 30
    assert by_name[("server", "auth_mode")]["choices"] == ["psk", "eap", "cert"]


def test_uci_defaults_from_json_load_to_the_loader_defaults(tmp_path):
    """Writing every exported uci_default into /etc/config/ikev2d changes nothing."""
    doc = json.loads(schema_as_json())
    lines = ["config ikev2d 'server'", f"\toption psk '{PSK}'", "\toption enabled '1'"]
    for o in doc["options"]:
        if o["section"] != "server" or o["uci_default"] is None or o["name"] == "enabled":
            continue
        if o["list"]:
            lines += [f"\tlist {o['name']} '{v}'" for v in o["uci_default"]]
        else:
            lines.append(f"\toption {o['name']} '{o['uci_default']}'")
    (tmp_path / "ikev2d").write_text("\n".join(lines) + "\n")
    (tmp_path / "network").write_text(
        "config interface 'lan'\n\toption proto 'static'\n\toption ipaddr '192.168.1.1/24'\n"
    )
    explicit = load_uci(str(tmp_path / "ikev2d"), str(tmp_path / "network"))
    assert explicit == from_mapping({"server": BASE})


@pytest.mark.parametrize("opt", SERVER_OPTIONS, ids=lambda o: o.name)
def test_plain_defaults_are_what_the_loader_uses(opt):
    if opt.default is None or opt.type == "proposal":
        # computed defaults are covered in test_policy_config; proposals right here
        base = from_mapping({"server": BASE})
        if opt.type == "proposal":
            assert tuple(p.text for p in getattr(base, opt.name)) == opt.default
        return
    value = getattr(from_mapping({"server": {**BASE, "enabled": False}}), opt.name)
    expected = opt.default
    if opt.is_list:
        value = tuple(str(v) for v in value)
    elif opt.type == "cidr4":
        value = str(value)
    assert value == expected


@pytest.mark.parametrize(
    "opt", [o for o in SERVER_OPTIONS if o.type == "int"], ids=lambda o: o.name
)
def test_int_ranges_match_the_loader(opt):
    for good in (opt.min, opt.max):
        extra = {"port": 1} if opt.name == "natt_port" and good == 65535 else {}
        extra = {"port": 2} if opt.name == "natt_port" and good == 1 else extra
        extra = {"natt_port": 2} if opt.name == "port" and good == 4500 else extra
        assert (
            getattr(from_mapping({"server": {**BASE, opt.name: good, **extra}}), opt.name) == good
        )
    for bad in (opt.min - 1, opt.max + 1):
        with pytest.raises(ConfigError) as exc:
            from_mapping({"server": {**BASE, opt.name: bad}})
        assert (
            str(exc.value) == f"server.{opt.name}: {bad} is out of range (allowed: {opt.allowed})"
        )


@pytest.mark.parametrize("opt", [o for o in SERVER_OPTIONS if o.choices], ids=lambda o: o.name)
def test_choices_match_the_loader(opt):
    for choice in opt.choices:
        extra = {}
        if opt.name == "remote_id_type" and choice != "any":
            extra = {
                "remote_id": {
                    "ipv4": "192.0.2.1",
                    "ipv6": "2001:db8::1",
                    "fqdn": "a.example",
                    "user-fqdn": "a@b.example",
                    "key-id": "k",
                }[choice]
            }
        if opt.name == "auth_mode" and choice == "eap":
            extra = {}
            data = {"server": {**BASE, opt.name: choice}, "user": [{"name": "u", "password": "p"}]}
            assert from_mapping(data).auth_mode == "eap"
            continue
        assert (
            getattr(from_mapping({"server": {**BASE, opt.name: choice, **extra}}), opt.name)
            == choice
        )
    with pytest.raises(ConfigError, match="is not one of the choices"):
        from_mapping({"server": {**BASE, opt.name: "bogus"}})


def test_option_lookup():
    assert option("server", "pool").default == "10.10.10.0/24"
    with pytest.raises(KeyError):
        option("server", "nope")
