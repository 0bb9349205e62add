"""Participants and what they publish, as the messages carry them, from literal strings."""

from __future__ import annotations

import pytest

from surgery_teach.errors import ProtocolError
from surgery_teach.protocol.messages import (
    Join,
    ParticipantInfo,
    Publish,
    Publishes,
    Role,
    Welcome,
    parse_client,
    parse_server,
)


@pytest.mark.parametrize(
    "text",
    [
        '{"v":1,"type":"joined","participant":{"id":"p-1","name":"A","role":"mentor"}}',
        '{"v":1,"type":"updated","participant":{"id":"p-1","name":"A","role":"mentor"}}',
        '{"v":1,"type":"left","participant":{"id":"p-1","name":"A","role":"mentor"},'
        '"reason":"leave"}',
        '{"v":1,"type":"welcome","room":"r","you":{"id":"p-1","name":"A","role":"mentor"},'
        '"participants":[{"id":"p-1","name":"A","role":"mentor"}],"server_version":"0.1.0"}',
    ],
)
def test_parse_server_reads_a_participant_without_publishes_as_publishing_nothing(
    text: str,
) -> None:
    """Servers from before ``publishes`` existed leave it out of participant objects."""
    message = parse_server(text)
    participants = (
        (message.you, *message.participants)
        if isinstance(message, Welcome)
        else (message.participant,)  # type: ignore[union-attr]
    )
    for participant in participants:
        assert participant == ParticipantInfo("p-1", "A", Role.MENTOR)
        assert participant.publishes == Publishes(video=0, audio=False)
        assert participant.can_draw is False  # nor can_draw: read as not drawing


def test_publishes_defaults_to_nothing_and_any_says_whether_media_is_sent() -> None:
    assert Publishes() == Publishes(video=0, audio=False)
    assert not Publishes().any
    assert Publishes(video=1).any
    assert Publishes(audio=True).any
    assert ParticipantInfo("p-1", "A", Role.MENTOR).publishes == Publishes()
    assert Join("r", "A", Role.MENTOR).publishes == Publishes()


def test_publishes_checks_its_values_when_built_in_python() -> None:
    with pytest.raises(ProtocolError, match="'video' must be a number of video tracks from 0"):
        Publishes(video=9)
    with pytest.raises(ProtocolError, match="'video' must be an integer"):
        Publishes(video=True)
    with pytest.raises(ProtocolError, match="'audio' must be true or false"):
        Publishes(audio=1)  # type: ignore[arg-type]


def test_publishes_fields_are_each_optional() -> None:
    text = '{"v":1,"type":"publish","publishes":{"audio":true}}'
    assert parse_client(text) == Publish(Publishes(video=0, audio=True))
    assert parse_client('{"v":1,"type":"publish","publishes":{}}') == Publish(Publishes())


def test_nested_participant_errors_name_the_path() -> None:
    raw = (
        '{"v":1,"type":"welcome","room":"r","you":{"id":"p-1","name":"A","role":"mentor"},'
        '"participants":[{"id":"p-2","name":"","role":"mentor"}],"server_version":"0.1.0"}'
    )
    with pytest.raises(ProtocolError, match=r"'participants\[0\]\.name'"):
        parse_server(raw)
    raw = (
        '{"v":1,"type":"joined","participant":{"id":"p-1","name":"A","role":"mentor",'
        '"publishes":{"audio":"yes"}}}'
    )
    with pytest.raises(ProtocolError, match=r"'participant\.publishes\.audio'"):
        parse_server(raw)
