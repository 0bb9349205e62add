"""ICE servers as aiortc's configuration, and the sentence that explains a failed connection."""

from __future__ import annotations

from aiortc import RTCIceServer
from aiortc.rtcconfiguration import RTCIceTransportPolicy
from aiortc.rtcicetransport import connection_kwargs

from surgery_teach.protocol.ice import IceServer
from surgery_teach.rtc.ice_config import (
    TurnOutcome,
    TurnProbe,
    candidate_types,
    explain_ice_failure,
    plan_ice,
    rtc_configuration,
    turn_choices,
)

STUN = IceServer(("stun:stun.example-hospital.cn",))
TURN = IceServer(("turn:turn.example-hospital.cn:3478", "turns:turn.example-hospital.cn:443"),
                 "1767312000:p-0a1b2c3d", "M+EC7cqXgDWdfgwokB1URnLEeFk=")
PARTNER = IceServer(("turn:relay.partner.example.org?transport=tcp",), "teach", "fixed-pw")


def test_aiortc_gets_one_stun_and_one_turn_url_with_the_credentials() -> None:
    config = rtc_configuration([STUN, TURN, PARTNER])
    assert config.iceServers == [
        RTCIceServer(urls="stun:stun.example-hospital.cn"),
        RTCIceServer(urls="turn:turn.example-hospital.cn:3478",
                     username="1767312000:p-0a1b2c3d", credential="M+EC7cqXgDWdfgwokB1URnLEeFk="),
    ]
    assert config.iceTransportPolicy is RTCIceTransportPolicy.ALL
    # what aioice is then really given
    assert connection_kwargs(config.iceServers) == {
        "stun_server": ("stun.example-hospital.cn", 3478),
        "turn_server": ("turn.example-hospital.cn", 3478),
        "turn_ssl": False,
        "turn_transport": "udp",
        "turn_username": "1767312000:p-0a1b2c3d",
        "turn_password": "M+EC7cqXgDWdfgwokB1URnLEeFk=",
    }


def test_the_plan_names_what_aiortc_will_not_use() -> None:
    plan = plan_ice([STUN, TURN, PARTNER])
    assert plan.unused == ("turns:turn.example-hospital.cn:443",
                           "turn:relay.partner.example.org?transport=tcp")


def test_the_turn_choices_keep_the_given_order_and_credentials() -> None:
    assert turn_choices([STUN, TURN, PARTNER]) == [
        IceServer(("turn:turn.example-hospital.cn:3478",), TURN.username, TURN.credential),
        IceServer(("turns:turn.example-hospital.cn:443",), TURN.username, TURN.credential),
        PARTNER,
    ]


def test_another_turn_choice_can_be_picked_and_turns_goes_over_tls() -> None:
    choice = turn_choices([TURN])[1]
    kwargs = connection_kwargs(plan_ice([STUN, TURN], turn=choice).configuration().iceServers)
    assert kwargs["turn_server"] == ("turn.example-hospital.cn", 443)
    assert (kwargs["turn_ssl"], kwargs["turn_transport"]) == (True, "tcp")


def test_a_udp_turn_relay_doubles_as_stun_server_when_none_is_given() -> None:
    assert plan_ice([TURN]).stun == "stun:turn.example-hospital.cn:3478"
    assert plan_ice([PARTNER]).stun is None  # over TCP only: UDP may well be blocked
    assert plan_ice([STUN, TURN]).stun == "stun:stun.example-hospital.cn"


def test_relay_only_and_no_servers() -> None:
    assert rtc_configuration([TURN], relay_only=True).iceTransportPolicy is (
        RTCIceTransportPolicy.RELAY)
    config = rtc_configuration([])
    assert config.iceServers == []  # never None: that would mean Google's public STUN server
    assert connection_kwargs(config.iceServers) == {}


SDP = (
    "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\nm=application 9 DTLS/SCTP 5000\r\n"
    "a=candidate:5b5a3c1e 1 udp 2130706431 192.168.1.20 50123 typ host\r\n"
    "a=candidate:8c2f0b7d 1 udp 1694498815 203.0.113.7 50123 typ srflx raddr 192.168.1.20 "
    "rport 50123\r\n"
    "a=candidate:c1d2e3f4 1 udp 16777215 198.51.100.9 61000 typ relay raddr 0.0.0.0 rport 9\r\n"
    "a=end-of-candidates\r\n"
)


def test_candidate_types_of_a_description() -> None:
    assert candidate_types(SDP) == {"host", "srflx", "relay"}
    assert candidate_types(SDP.replace("typ relay", "typ host")) == {"host", "srflx"}
    assert candidate_types("v=0\r\n") == set()


def test_explained_without_any_ice_server() -> None:
    text = explain_ice_failure("Dr Li", servers=[], local_types={"host"})
    assert text.startswith("no connection to Dr Li's computer: no STUN or TURN server is set up")


def test_explained_without_a_turn_relay() -> None:
    text = explain_ice_failure("Dr Li", servers=[STUN], local_types={"host", "srflx"})
    assert "the server offers no TURN relay, which a firewall" in text
    assert "did not answer" not in text
    silent = explain_ice_failure("Dr Li", servers=[STUN], local_types={"host"})
    assert "the STUN server at stun.example-hospital.cn:3478 did not answer" in silent


def test_explained_from_what_the_relay_answered() -> None:
    def told(outcome: TurnOutcome, code: int | None = None, detail: str = "") -> str:
        probe = TurnProbe("turn:turn.example-hospital.cn:3478", outcome, code, detail)
        return explain_ice_failure("Dr Li", servers=[TURN], local_types={"host"}, probe=probe)

    assert ("the TURN relay at turn.example-hospital.cn:3478 refused the credentials"
            in told(TurnOutcome.REFUSED, 401, "Unauthorized"))
    silent = told(TurnOutcome.UNREACHABLE, detail="no answer within 5 s")
    assert ("the TURN relay at turn.example-hospital.cn:3478 could not be reached "
            "(no answer within 5 s)") in silent
    assert "could not be found" in told(TurnOutcome.UNKNOWN_HOST, detail="Name not known")
    assert "does not trust" in told(TurnOutcome.UNTRUSTED, detail="certificate has expired")
    assert ("turned the request down (486 Allocation Quota Reached)"
            in told(TurnOutcome.REJECTED, 486, "Allocation Quota Reached"))
    assert "although it answers now" in told(TurnOutcome.RELAYED)


def test_explained_from_the_candidates_alone() -> None:
    mine = explain_ice_failure("Dr Li", servers=[TURN], local_types={"host", "srflx"})
    assert "this computer got no connection through the TURN relay at " \
           "turn.example-hospital.cn:3478" in mine
    theirs = explain_ice_failure("Dr Li", servers=[TURN], local_types={"host", "relay"},
                                 remote_types={"host"})
    assert "Dr Li's computer could not use the TURN relay" in theirs
    both = explain_ice_failure("Dr Li", servers=[TURN], local_types={"relay"},
                               remote_types={"relay"})
    assert "even through the TURN relay at turn.example-hospital.cn:3478" in both
