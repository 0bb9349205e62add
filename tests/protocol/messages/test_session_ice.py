"""``welcome.ice_servers``: the STUN/TURN servers the server gives each participant."""

from __future__ import annotations

import json

import pytest

from surgery_teach.errors import ProtocolError
from surgery_teach.protocol.ice import IceServer
from surgery_teach.protocol.messages import Welcome, parse_server, serialize
from tests.protocol.messages.samples import IVANOVA, LI

HEAD = (
    '{"v":1,"type":"welcome","room":"r","you":{"id":"p-0a1b2c3d","name":"Dr Li",'
    '"role":"mentor","publishes":{"video":0,"audio":false},"can_draw":true},'
    '"participants":[],"server_version":"0.1.0"'
)
STUN = IceServer(("stun:turn.example-hospital.cn",))
TURN = IceServer(("turn:turn.example-hospital.cn:3478", "turns:turn.example-hospital.cn:443"),
                 "1767312000:p-0a1b2c3d", "M+EC7cqXgDWdfgwokB1URnLEeFk=")


def test_a_welcome_with_ice_servers_round_trips_from_literal_json() -> None:
    text = HEAD + (
        ',"ice_servers":[{"urls":["stun:turn.example-hospital.cn"],"username":"",'
        '"credential":""},{"urls":["turn:turn.example-hospital.cn:3478",'
        '"turns:turn.example-hospital.cn:443"],"username":"1767312000:p-0a1b2c3d",'
        '"credential":"M+EC7cqXgDWdfgwokB1URnLEeFk="}]}'
    )
    welcome = Welcome("r", LI, (), "0.1.0", (STUN, TURN))
    assert parse_server(text) == welcome
    assert serialize(welcome) == text


def test_without_servers_the_field_is_left_out_and_a_missing_one_reads_as_none() -> None:
    text = HEAD + "}"
    assert parse_server(text) == Welcome("r", LI, (), "0.1.0")
    assert serialize(Welcome("r", LI, (), "0.1.0", ())) == text
    assert parse_server(HEAD + ',"ice_servers":[]}') == Welcome("r", LI, (), "0.1.0")


def test_a_client_ignores_what_a_newer_server_adds_to_an_ice_server() -> None:
    text = HEAD + (',"ice_servers":[{"urls":["turn:t.example.cn"],"username":"u",'
                   '"credential":"p","credentialType":"password"}]}')
    welcome = parse_server(text)
    assert isinstance(welcome, Welcome)
    assert welcome.ice_servers == (IceServer(("turn:t.example.cn",), "u", "p"),)


@pytest.mark.parametrize(("servers", "words"), [
    ('{"urls":["stun:s.example.cn"]}', "'ice_servers' must be an array"),
    ('[{"urls":["http://s.example.cn"]}]', "'ice_servers[0].urls[0]' has the scheme 'http'"),
    ('[{"urls":["turn:t.example.cn"],"username":"u"}]',
     "'ice_servers[0].credential' is missing"),
])
def test_malformed_ice_servers_are_refused_naming_the_field(servers: str, words: str) -> None:
    with pytest.raises(ProtocolError) as caught:
        parse_server(HEAD + f',"ice_servers":{servers}}}')
    assert caught.value.code == "bad-message"
    assert words in caught.value.message


def test_a_credential_never_shows_in_the_welcomes_repr() -> None:
    welcome = Welcome("r", LI, (IVANOVA,), "0.1.0", (TURN,))
    assert TURN.credential not in repr(welcome)
    assert json.loads(serialize(welcome))["ice_servers"][0]["credential"] == TURN.credential
