from __future__ import annotations

from surgery_teach.protocol.messages import ParticipantInfo, Publishes, Role
from surgery_teach.rtc.peer import audio_direction, is_loopback_url, offerer


def p(pid: str, video: int = 0, audio: bool = False) -> ParticipantInfo:
    return ParticipantInfo(pid, pid, Role.MENTOR, Publishes(video, audio))


def test_the_publisher_offers_and_viewers_never_do() -> None:
    assert offerer(p("p-b", video=2), p("p-a")) == "p-b"
    assert offerer(p("p-a"), p("p-b", audio=True)) == "p-b"
    assert offerer(p("p-a"), p("p-b")) is None


def test_when_both_publish_the_first_id_offers_on_both_sides() -> None:
    a, b = p("p-1aaaaaaa", video=1), p("p-0bbbbbbb", audio=True)
    assert offerer(a, b) == offerer(b, a) == "p-0bbbbbbb"


def test_audio_section_direction() -> None:
    assert audio_direction(send=True, receive=True) == "sendrecv"
    assert audio_direction(send=True, receive=False) == "sendonly"
    assert audio_direction(send=False, receive=True) == "recvonly"
    assert audio_direction(send=False, receive=False) is None


def test_loopback_urls() -> None:
    assert is_loopback_url("ws://127.0.0.1:8765")
    assert is_loopback_url("ws://localhost:1")
    assert is_loopback_url("ws://[::1]:8765")
    assert not is_loopback_url("wss://teach.ruijin.example:443")
