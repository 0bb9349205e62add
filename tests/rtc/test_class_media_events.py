"""Which events on a class participant's own Janus handle mean it is out of its room."""

from __future__ import annotations

from typing import Any

import pytest

from surgery_teach.rtc.class_media import lost_reason


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
