"""Property tests: the UCI reader fails only with ConfigSyntaxError, and quoting round-trips;
errors never leak a secret, even pickled."""

import pathlib
import pickle

from hypothesis import given
from hypothesis import strategies as st

from ikev2d.policy.config import from_mapping, load_uci
from ikev2d.policy.errors import ConfigError, ConfigSyntaxError
from ikev2d.policy.uci import parse_uci

PACKAGED = pathlib.Path(__file__).resolve().parents[3] / "files" / "etc" / "config" / "ikev2d"


@given(st.text(alphabet=st.sampled_from("config option list 'x\"\\#;\n\t ab_-@[]"), max_size=200))
def test_uci_reader_raises_only_its_syntax_error(text):
    try:
        parse_uci(text, "f")
    except ConfigSyntaxError as exc:
        assert "\n" not in str(exc)
        assert exc.line is None or 1 <= exc.line <= text.count("\n") + 1


@given(st.text(st.characters(exclude_characters="\x00\r"), min_size=1, max_size=60))
def test_single_quoted_values_round_trip(value):
    # how `uci export` quotes: close the quote, escaped quote, reopen
    quoted = "'" + value.replace("'", "'\\''") + "'"
    sec = parse_uci(f"config t 's'\noption v {quoted}\nlist l {quoted}\n").sections[0]
    assert sec.options["v"] == value
    assert sec.options["l"] == [value]


def test_pickled_error_keeps_the_secret_out():
    secret = "hunter2hunter2hunter2"
    try:
        from_mapping({"server": {"psk": secret, "local_subnet": ["192.168.1.0/24"]}})
    except ConfigError as exc:
        err = exc
    data = pickle.dumps(err)
    assert secret.encode() not in data
    assert str(pickle.loads(data)) == str(err)  # noqa: S301 - our own bytes


def test_the_packaged_default_config_loads(tmp_path):
    network = tmp_path / "network"
    network.write_text(
        "config interface 'lan'\n\toption proto 'static'\n"
        "\toption ipaddr '192.168.1.1'\n\toption netmask '255.255.255.0'\n"
    )
    cfg = load_uci(str(PACKAGED), str(network))
    assert cfg.enabled is False
    assert cfg.warnings == ("server.psk: not set; it is required before the server is enabled",)
