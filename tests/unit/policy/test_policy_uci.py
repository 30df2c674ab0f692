"""The UCI reader: quoting and escapes as libuci does them, lists, anonymous sections, errors."""

import pytest

from ikev2d.policy.errors import ConfigError, ConfigSyntaxError
from ikev2d.policy.uci import load_uci_file, parse_uci


def one(text: str):
    pkg = parse_uci(text)
    assert len(pkg.sections) == 1
    return pkg.sections[0]


def test_sections_options_lists_comments_blank_lines():
    pkg = parse_uci(
        """
# a comment line
package ikev2d

config ikev2d 'server'   # trailing comment
\toption enabled '1'
    option port 500
    list dns '192.168.1.1'
    list dns "9.9.9.9"

config user
    option name 'alice'
config user 'bob'
    option name bob
"""
    )
    assert pkg.package == "ikev2d"
    server, alice, bob = pkg.sections
    assert (server.type, server.name, server.label) == ("ikev2d", "server", "server")
    assert server.options == {"enabled": "1", "port": "500", "dns": ["192.168.1.1", "9.9.9.9"]}
    assert server.line == 5
    assert alice.name is None and alice.label == "@user[0]"
    assert bob.label == "bob" and bob.index == 1
    assert [s.label for s in pkg.of_type("user")] == ["@user[0]", "bob"]
    assert pkg.get("bob") is bob


@pytest.mark.parametrize(
    ("line", "value"),
    [
        ("option v 'a b'", "a b"),
        ('option v "a b"', "a b"),
        ("option v plain", "plain"),
        ("option v 'it'\\''s'", "it's"),  # the way uci export writes a quote
        ('option v "say \\"hi\\""', 'say "hi"'),
        ('option v "back\\\\slash"', "back\\slash"),
        ("option v 'no \\escape'", "no \\escape"),
        ("option v 'a'\"b\"c", "abc"),
        ("option v a\\ b", "a b"),
        ('option v "\\n"', "n"),  # libuci keeps the escaped character, no C escapes
        ("option v '#not a comment'", "#not a comment"),
        ("option v abc#comment", "abc"),
        ("option v 'x' ; option w 'y'", "x"),
        ("o v 'short form'", "short form"),
    ],
)
def test_quoting_and_escapes(line, value):
    sec = one("config t 's'\n" + line + "\n")
    assert sec.options["v"] == value


def test_unterminated_quote_names_the_line():
    with pytest.raises(ConfigSyntaxError) as exc:
        parse_uci("config t 's'\noption a 'one\ntwo'\noption b lo\\\nng\noption c 'x\n\n", "/f")
    assert str(exc.value) == "/f:6: unterminated '"
    assert isinstance(exc.value, ConfigError)  # the CLI catches one type


def test_multiline_values():
    sec = one("config t 's'\noption a 'one\ntwo'\noption b lo\\\nng\noption c \"d\\\ne\"\n")
    assert sec.options == {"a": "one\ntwo", "b": "long", "c": "de"}


def test_line_numbers_after_multiline_values():
    with pytest.raises(ConfigSyntaxError) as exc:
        parse_uci("config t 's'\noption a 'one\ntwo'\nbogus x\n", "f")
    assert exc.value.line == 4


def test_empty_values_and_list_semantics():
    sec = one(
        "config t 's'\n"
        "option gone 'x'\noption gone ''\n"  # '' unsets, as libuci does
        "option bare\n"
        "list dns ''\n"  # an empty list item means nothing
        "option conv 'a'\nlist conv 'b'\n"  # list after option: becomes a list
        "list repl 'a'\noption repl 'b'\n"  # option after list: replaces
    )
    assert sec.options == {"dns": [], "conv": ["a", "b"], "repl": "b"}


def test_named_section_twice_merges():
    pkg = parse_uci("config t 'a'\noption x 1\nconfig t 'a'\noption y 2\n")
    assert len(pkg.sections) == 1
    assert pkg.sections[0].options == {"x": "1", "y": "2"}


def test_crlf_line_endings():
    sec = one("config t 's'\r\noption x 'y'\r\n")
    assert sec.options == {"x": "y"}


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("option x 1\n", 1, "option before the first config section"),
        ("config t 's'\nfrobnicate x\n", 2, "invalid command 'frobnicate'"),
        ("config t 's'\n\noption 'bad-name' 1\n", 3, "invalid option name 'bad-name'"),
        ("config t 'bad name'\n", 1, "invalid section name 'bad name'"),
        ("config\n", 1, "config needs a section type"),
        ("config t 's' extra\n", 1, "too many arguments"),
        ("config t 's'\noption x a b\n", 2, "too many arguments"),
        ("config t 's'\noption x \"open\n", 2, 'unterminated "'),
        ("config a 's'\nconfig b 's'\n", 2, "section 's' redefined with another type"),
        ("config t 's'\npackage late\n", 2, "package must come first"),
    ],
)
def test_syntax_errors_name_file_and_line(text, line, message):
    with pytest.raises(ConfigSyntaxError) as exc:
        parse_uci(text, "/etc/config/ikev2d")
    assert exc.value.line == line
    assert str(exc.value).startswith(f"/etc/config/ikev2d:{line}: {message}")
    assert "\n" not in str(exc.value)


def test_load_file_and_unreadable_files(tmp_path):
    path = tmp_path / "ikev2d"
    path.write_text("config ikev2d 'server'\n\toption port '4501'\n")
    assert load_uci_file(str(path)).get("server").options == {"port": "4501"}
    with pytest.raises(ConfigSyntaxError, match="cannot read"):
        load_uci_file(str(tmp_path / "missing"))
    bad = tmp_path / "bad"
    bad.write_bytes(b"config t 's'\noption x '\xff'\n")
    with pytest.raises(ConfigSyntaxError) as exc:
        load_uci_file(str(bad))
    assert exc.value.line == 2 and "UTF-8" in str(exc.value)
