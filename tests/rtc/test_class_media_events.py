"""Which events on a class participant's own Janus handle mean it is out of its room, and
which on a subscriber handle mean that one subscription ended alone."""

from __future__ import annotations

from typing import Any

import pytest

from surgery_teach.rtc.class_media import lost_reason
from surgery_teach.rtc.class_watch import subscription_lost


def _plugin(data: dict[str, Any]) -> dict[str, Any]:
    return {"janus": "event", "sender": 7,
            "plugindata": {"plugin": "janus.plugin.videoroom", "data": data}}


@pytest.mark.parametrize(("event", "says"), [
    ({"janus": "closed", "reason": "connection lost"}, "connection lost"),
    ({"janus": "hangup", "sender": 7, "reason": "DTLS alert"}, "hung up (DTLS alert)"),
    (_plugin({"videoroom": "destroyed", "room": 42}), "room was closed"),
    (_plugin({"videoroom": "event", "room": 42, "leaving": "ok", "reason": "kicked"}),
     "thrown out"),
])
def test_losing_the_room_is_recognised(event: dict[str, Any], says: str) -> None:
    assert says in lost_reason(event)


@pytest.mark.parametrize("event", [
    _plugin({"videoroom": "event", "room": 42, "leaving": 1234}),  # another one left
    _plugin({"videoroom": "event", "room": 42, "unpublished": 1234}),
    _plugin({"videoroom": "event", "room": 42, "publishers": []}),
    {"janus": "webrtcup", "sender": 7},
    {"janus": "media", "sender": 7, "type": "video", "receiving": True},
])
def test_news_about_others_is_not_a_loss(event: dict[str, Any]) -> None:
    assert lost_reason(event) == ""


@pytest.mark.parametrize(("event", "says"), [
    ({"janus": "hangup", "sender": 9, "reason": "DTLS alert"}, "hung up (DTLS alert)"),
    ({"janus": "hangup", "sender": 9}, "hung up (no reason given)"),
    ({"janus": "detached", "sender": 9}, "detached the subscription"),
])
def test_a_subscription_ended_alone_is_recognised(event: dict[str, Any], says: str) -> None:
    assert says in subscription_lost(event)


@pytest.mark.parametrize("event", [
    {"janus": "closed", "reason": "connection lost"},  # the whole session: not its own loss
    {"janus": "webrtcup", "sender": 9},
    {"janus": "media", "sender": 9, "type": "video", "receiving": False},
    {"janus": "slowlink", "sender": 9, "uplink": False, "lost": 20},
    _plugin({"videoroom": "updated", "room": 42, "streams": []}),
])
def test_other_subscription_news_is_not_a_loss(event: dict[str, Any]) -> None:
    assert subscription_lost(event) == ""
