"""ICE servers: the command-line text, the wire form in ``welcome``, TURN REST credentials."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from surgery_teach.errors import ConfigError, ProtocolError
from surgery_teach.protocol.ice import (
    ICE_SERVER_SYNTAX,
    MAX_ICE_SERVERS,
    IceServer,
    IceUrl,
    check_server_ice,
    format_ice_server,
    ice_servers_for,
    ice_servers_from_wire,
    ice_servers_to_wire,
    parse_ice_server,
    parse_ice_url,
    turn_rest_credentials,
)
from tests.protocol.frames import json_values

SECRET = b"north-wing-turn-secret-2026"
# printf '%s' '1767312000:p-0a1b2c3d' | openssl dgst -sha1 -hmac 'north-wing-turn-secret-2026' \
#   -binary | base64
EXPECTED_PASSWORD = "M+EC7cqXgDWdfgwokB1URnLEeFk="


# --- the command-line and settings text -------------------------------------------------

def test_stun_and_turn_urls_without_credentials() -> None:
    assert parse_ice_server("stun:stun.example-hospital.cn") == IceServer(
        ("stun:stun.example-hospital.cn",))
    assert parse_ice_server("  turns:turn.example-hospital.cn:443  ") == IceServer(
        ("turns:turn.example-hospital.cn:443",))
    assert parse_ice_url("turn:10.1.2.3?transport=tcp") == IceUrl("turn", "10.1.2.3", 3478, "tcp")
    assert parse_ice_url("turn:turn.example-hospital.cn") == IceUrl(
        "turn", "turn.example-hospital.cn", 3478, "udp")
    assert parse_ice_url("turns:t.example.cn") == IceUrl("turns", "t.example.cn", 5349, "tcp")
    assert parse_ice_url("stun:s.example.cn:19302") == IceUrl("stun", "s.example.cn", 19302, "")


def test_a_turn_server_with_a_user_name_and_password() -> None:
    server = parse_ice_server("turn:teach:s3cret@turn.example-hospital.cn:3478?transport=udp")
    assert server.urls == ("turn:turn.example-hospital.cn:3478?transport=udp",)
    assert (server.username, server.credential) == ("teach", "s3cret")


def test_escaped_colon_and_at_sign_in_user_name_and_password() -> None:
    server = parse_ice_server("turn:1767312000%3Ap-0a1b2c3d:M+EC7cq%40X:g%25=@10.0.0.1")
    assert server.urls == ("turn:10.0.0.1",)
    assert server.username == "1767312000:p-0a1b2c3d"
    assert server.credential == "M+EC7cq@X:g%="  # the password runs to the last '@'


def test_formatted_servers_read_back_the_same() -> None:
    for server in (
        IceServer(("stun:s.example.cn",)),
        IceServer(("turn:t.example.cn:3478", "turns:t.example.cn:443"), "1767312000:p-1",
                  "ab/c+d@e:f%=="),
    ):
        assert [parse_ice_server(line) for line in format_ice_server(server)] == [
            IceServer((url,), server.username, server.credential) for url in server.urls
        ]


@pytest.mark.parametrize(("text", "problem"), [
    ("", "is empty"),
    ("turn.example.cn:3478", "has the scheme 'turn.example.cn'"),
    ("http://turn.example.cn", "only stun:, turn: and turns: are ICE servers"),
    ("TURN:turn.example.cn", "write the scheme in lower case (turn:)"),
    ("stuns:s.example.cn", "stuns: (STUN over TLS) is not supported"),
    ("turn://turn.example.cn", "write turn:HOST, not turn://HOST"),
    ("turn:", "names no host"),
    ("turn:turn.example.cn:0", "a port is a number from 1 to 65535"),
    ("turn:turn.example.cn:65536", "a port is a number from 1 to 65535"),
    ("turn:turn.example.cn:http", "a port is a number from 1 to 65535"),
    ("turn:[2001:db8::1]:3478", "has an IPv6 address"),
    ("turn:turn_server.example.cn", "not a host name or IPv4 address"),
    ("turn:10.0.0.256", "not a valid IPv4 address"),
    ("turn:turn.example.cn?transport=sctp", "use ?transport=udp or ?transport=tcp"),
    ("turn:turn.example.cn?proto=udp", "only ?transport=udp or tcp is allowed"),
    ("stun:s.example.cn?transport=udp", "stun: takes no ?transport="),
    ("turns:t.example.cn?transport=udp", "turns: runs over TCP only"),
    ("turn:turn.example.cn 3478", "no spaces"),
    ("turn:" + "a" * 300, "the limit is 256"),
])
def test_malformed_text_is_refused_with_the_accepted_syntax(text: str, problem: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_ice_server(text)
    assert problem in str(caught.value)
    assert ICE_SERVER_SYNTAX in str(caught.value)


@pytest.mark.parametrize(("text", "problem"), [
    ("turn:teach@turn.example.cn", "give both the user name and the password"),
    ("turn:teach:@turn.example.cn", "give both the user name and the password"),
    ("turn::s3cret-pw@turn.example.cn", "give both the user name and the password"),
    ("turn:teach:s3cret-pw@turn.example.cn:99999", "a port is a number from 1 to 65535"),
    ("turn:teach:s3cret-pw%zz@turn.example.cn", "write '%' itself as %25"),
    ("turn:teach:s3cret-pw%ff@turn.example.cn", "not UTF-8 text"),
    ("turn://teach:s3cret-pw@turn.example.cn", "not turn://HOST"),
    ("stun:teach:s3cret-pw@stun.example.cn", "only TURN servers (turn:, turns:) take"),
    ("teach:s3cret-pw@turn.example.cn", "has the scheme 'teach'"),
])
def test_errors_about_credentials_never_repeat_the_password(text: str, problem: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_ice_server(text)
    assert problem in str(caught.value)
    assert "s3cret-pw" not in str(caught.value)


def test_a_server_never_shows_its_password_in_repr_or_describe() -> None:
    server = IceServer(("turn:t.example.cn",), "1767312000:p-1", "s3cret-pw")
    assert "s3cret-pw" not in repr(server)
    assert server.describe() == "turn:t.example.cn (user '1767312000:p-1')"


def test_credentials_rules_on_construction() -> None:
    with pytest.raises(ConfigError, match="needs both a user name and a password"):
        IceServer(("turn:t.example.cn",), "teach")
    with pytest.raises(ConfigError, match="needs both a user name and a password"):
        IceServer(("turn:t.example.cn",), "", "s3cret")
    with pytest.raises(ConfigError, match="only TURN servers"):
        IceServer(("stun:s.example.cn",), "teach", "s3cret")
    with pytest.raises(ConfigError, match="control characters or surrounding spaces"):
        IceServer(("turn:t.example.cn",), "teach", "s3cret\n")
    with pytest.raises(ConfigError, match="lists no URL"):
        IceServer(())
    with pytest.raises(ConfigError, match="not one string"):
        IceServer("turn:t.example.cn")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="has a user name or password in it"):
        IceServer(("turn:teach:s3cret@t.example.cn",))


# --- the wire form ----------------------------------------------------------------------

WELCOME_ICE = (
    '[{"urls":["stun:turn.example-hospital.cn:3478"],"username":"","credential":""},'
    '{"urls":["turn:turn.example-hospital.cn:3478","turns:turn.example-hospital.cn:443"],'
    '"username":"1767312000:p-0a1b2c3d","credential":"M+EC7cqXgDWdfgwokB1URnLEeFk="}]'
)


def test_wire_form_from_a_literal_and_back() -> None:
    servers = ice_servers_from_wire(json.loads(WELCOME_ICE))
    assert servers == (
        IceServer(("stun:turn.example-hospital.cn:3478",)),
        IceServer(("turn:turn.example-hospital.cn:3478", "turns:turn.example-hospital.cn:443"),
                  "1767312000:p-0a1b2c3d", "M+EC7cqXgDWdfgwokB1URnLEeFk="),
    )
    assert json.dumps(ice_servers_to_wire(servers), separators=(",", ":")) == WELCOME_ICE


def test_a_stun_server_may_leave_out_username_and_credential() -> None:
    assert IceServer.from_wire({"urls": ["stun:s.example.cn"]}) == IceServer(("stun:s.example.cn",))


@pytest.mark.parametrize(("wire", "message"), [
    ('{"urls":"turn:t.example.cn"}', "field 'ice_servers[0].urls' must be an array"),
    ('{"urls":[]}', "field 'ice_servers[0].urls' must list at least one URL"),
    ('{"urls":[3478]}', "field 'ice_servers[0].urls[0]' must be a string (got the number 3478)"),
    ('{"urls":["http://t.example.cn"]}', "field 'ice_servers[0].urls[0]' has the scheme 'http'"),
    ('{"urls":["turn:t.example.cn"],"username":"u","credential":"p","ttl":60}',
     "unknown field 'ice_servers[0].ttl' in an ICE server"),
    ('{"urls":["turn:t.example.cn"],"username":7,"credential":"p"}',
     "field 'ice_servers[0].username' must be a string (got the number 7)"),
    ('{"urls":["turn:t.example.cn"],"username":"u"}',
     "field 'ice_servers[0].credential' is missing: a TURN server needs both"),
    ('{"urls":["turn:t.example.cn"],"username":"u","credential":"' + "x" * 257 + '"}',
     "field 'ice_servers[0].credential' is 257 characters long; the limit is 256"),
    ('{"urls":["stun:s.example.cn"],"username":"u","credential":"p"}',
     "field 'ice_servers[0].username' is set, but only TURN servers"),
    ('{"urls":[' + ",".join(['"stun:s.example.cn"'] * 9) + "]}",
     "field 'ice_servers[0].urls' has 9 URLs; the limit is 8"),
    ('"stun:s.example.cn"', "field 'ice_servers[0]' must be a JSON object"),
])
def test_malformed_wire_servers_are_refused_naming_the_field(wire: str, message: str) -> None:
    with pytest.raises(ProtocolError) as caught:
        ice_servers_from_wire([json.loads(wire)])
    assert caught.value.code == "bad-message"
    assert message in caught.value.message


def test_the_list_itself_is_bounded_and_typed() -> None:
    with pytest.raises(ProtocolError, match="must be an array"):
        ice_servers_from_wire({"urls": ["stun:s.example.cn"]})
    too_many = [{"urls": ["stun:s.example.cn"]}] * (MAX_ICE_SERVERS + 1)
    with pytest.raises(ProtocolError, match="has 9 servers; the limit is 8"):
        ice_servers_from_wire(too_many)


def test_a_lenient_reader_ignores_fields_it_does_not_know_but_checks_the_rest() -> None:
    newer = {"urls": ["turn:t.example.cn"], "username": "u", "credential": "p",
             "credentialType": "password"}
    assert IceServer.from_wire(newer, strict=False) == IceServer(("turn:t.example.cn",), "u", "p")
    with pytest.raises(ProtocolError, match="unknown field"):
        IceServer.from_wire(newer)
    with pytest.raises(ProtocolError, match="must be a string"):
        IceServer.from_wire({"urls": ["turn:t.example.cn"], "username": None}, strict=False)


_URL_PIECES = st.sampled_from([
    "stun:", "turn:", "turns:", "TURN:", "//", "u", ":", "@", "%", "%3A", "%4", "?transport=",
    "udp", "tcp", "h.example.cn", "10.0.0.1", "[::1]", ":3478", ":0", ".", "-", " ", "\n", "é",
])


@given(st.lists(_URL_PIECES, max_size=8).map("".join) | st.text(max_size=40))
def test_any_text_is_a_server_or_a_config_error(text: str) -> None:
    try:
        server = parse_ice_server(text)
    except ConfigError as exc:
        assert ICE_SERVER_SYNTAX in str(exc) or "ICE server" in str(exc)
        return
    assert [parse_ice_server(line) for line in format_ice_server(server)] == [server]


@given(json_values | st.lists(st.fixed_dictionaries(
    {"urls": st.lists(_URL_PIECES.map(lambda p: "turn:" + p) | json_values, max_size=3)},
    optional={"username": st.text(max_size=5) | json_values,
              "credential": st.text(max_size=5) | json_values}), max_size=3))
def test_any_json_is_ice_servers_or_a_bad_message(value: object) -> None:
    try:
        servers = ice_servers_from_wire(value)
    except ProtocolError as exc:
        assert exc.code == "bad-message" and "'ice_servers" in exc.message
        return
    assert ice_servers_from_wire(ice_servers_to_wire(servers)) == servers


# --- TURN REST credentials ---------------------------------------------------------------

def test_rest_credentials_match_an_independently_computed_hmac() -> None:
    assert turn_rest_credentials(SECRET, "p-0a1b2c3d", now=1767225600.7, ttl=86400) == (
        "1767312000:p-0a1b2c3d", EXPECTED_PASSWORD)


def test_rest_credentials_depend_on_secret_participant_and_expiry() -> None:
    base = turn_rest_credentials(SECRET, "p-0a1b2c3d", now=1767225600, ttl=86400)
    assert turn_rest_credentials(SECRET + b"!", "p-0a1b2c3d", now=1767225600, ttl=86400) != base
    assert turn_rest_credentials(SECRET, "p-0a1b2c3e", now=1767225600, ttl=86400)[1] != base[1]
    assert turn_rest_credentials(SECRET, "p-0a1b2c3d", now=1767225601, ttl=86400)[1] != base[1]


def test_rest_credentials_refuse_bad_input() -> None:
    with pytest.raises(ConfigError, match="use at least 16 random bytes"):
        turn_rest_credentials(b"short", "p-1", now=0, ttl=60)
    with pytest.raises(ConfigError, match="need a participant id"):
        turn_rest_credentials(SECRET, "", now=0, ttl=60)
    with pytest.raises(ConfigError, match="positive ttl"):
        turn_rest_credentials(SECRET, "p-1", now=0, ttl=0)


# --- what the signaling server gives each participant -----------------------------------

def test_each_participant_gets_its_own_turn_credentials_and_stun_gets_none() -> None:
    servers = [
        IceServer(("stun:stun.example-hospital.cn",)),
        IceServer(("stun:turn.example-hospital.cn", "turn:turn.example-hospital.cn:3478",
                   "turns:turn.example-hospital.cn:443")),
        IceServer(("turn:partner-relay.example.org",), "teach", "fixed-pw"),
    ]
    given = ice_servers_for("p-0a1b2c3d", servers, turn_secret=SECRET, now=1767225600, ttl=86400)
    assert given == (
        IceServer(("stun:stun.example-hospital.cn",)),
        IceServer(("stun:turn.example-hospital.cn",)),
        IceServer(("turn:turn.example-hospital.cn:3478", "turns:turn.example-hospital.cn:443"),
                  "1767312000:p-0a1b2c3d", EXPECTED_PASSWORD),
        IceServer(("turn:partner-relay.example.org",), "teach", "fixed-pw"),
    )
    other = ice_servers_for("p-99aa88bb", servers, turn_secret=SECRET, now=1767225600, ttl=86400)
    assert other[2].username == "1767312000:p-99aa88bb"
    assert other[2].credential != EXPECTED_PASSWORD


def test_without_a_secret_the_servers_are_passed_on_unchanged() -> None:
    servers = [IceServer(("stun:s.example.cn", "turn:t.example.cn"))]
    assert ice_servers_for("p-1", servers, turn_secret=None, now=0) == tuple(servers)


def test_server_options_are_checked() -> None:
    unsigned = IceServer(("turn:t.example.cn",))
    assert check_server_ice([unsigned], SECRET) == []
    with pytest.raises(ConfigError, match="no TURN server to make credentials for"):
        check_server_ice([IceServer(("stun:s.example.cn",))], SECRET)
    with pytest.raises(ConfigError, match="at least 16 random bytes"):
        check_server_ice([unsigned], b"too-short")
    (warning,) = check_server_ice([unsigned], None)
    assert "turn:t.example.cn has no credentials" in warning
    assert "--turn-secret-file" in warning
