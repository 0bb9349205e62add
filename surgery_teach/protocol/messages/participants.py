"""What a participant looks like to the others: id, name, role, media sent, drawing right.

:class:`ParticipantInfo` and :class:`Publishes` ride in many server messages (``welcome``,
``joined``, ``left``, ``updated``) and :class:`Publishes` in ``join`` and ``publish``, so
they and their readers and writers live here, apart from the messages that carry them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from surgery_teach.protocol.messages.common import check_boolean, normalise
from surgery_teach.wire.fields import (
    MAX_ID_CHARS,
    MAX_NAME_CHARS,
    MAX_VIDEO_TRACKS,
    JsonObject,
    bad,
    check_text,
    clean_label,
    json_kind,
    show,
)
from surgery_teach.wire.role import Role, as_role


@dataclass(frozen=True)
class Publishes:
    """What a participant sends: how many video tracks (0-8) and whether audio.

    Announced in ``join`` and ``publish`` so that every participant can tell, from the
    participant lists alone, who offers to whom (docs/protocol.md, offer rules).
    """

    video: int = 0
    audio: bool = False

    def __post_init__(self) -> None:
        video = self.video
        if isinstance(video, bool) or not isinstance(video, int):
            raise bad("video", f"must be an integer (got {json_kind(video)})")
        if not 0 <= video <= MAX_VIDEO_TRACKS:
            raise bad(
                "video",
                f"must be a number of video tracks from 0 to {MAX_VIDEO_TRACKS} "
                f"(got {show(video)})",
            )
        check_boolean(self.audio, "audio")

    @property
    def any(self) -> bool:
        """True if this publishes any media at all."""
        return self.video > 0 or self.audio


def read_publishes(value: object, path: str, *, strict: bool) -> Publishes:
    """A publishes object at ``path``; ``strict`` refuses fields it does not know."""
    publishes = JsonObject(
        value, path, ("video", "audio"), strict=strict, what="a publishes object"
    )
    return publishes.build(
        Publishes,
        video=publishes.integer("video", default=0),
        audio=publishes.boolean("audio", default=False),
    )


def read_optional_publishes(obj: JsonObject, *, strict: bool) -> Publishes:
    """``obj.publishes``, or nothing published when it is absent (older peers omit it)."""
    if "publishes" not in obj.raw:
        return Publishes()
    return read_publishes(obj.raw["publishes"], obj.path("publishes"), strict=strict)


def publishes_to_json(publishes: Publishes) -> dict[str, Any]:
    """``publishes`` as it goes on the wire, both fields always present."""
    return {"video": publishes.video, "audio": publishes.audio}


@dataclass(frozen=True)
class ParticipantInfo:
    """A participant as others see them: server-assigned ``id``, name, role, media sent.

    ``can_draw`` says whether they may annotate the video now: always for surgeons and
    mentors, for a trainee while a mentor allows it, never for students.
    """

    id: str
    name: str
    role: Role
    publishes: Publishes = Publishes()
    can_draw: bool = False

    def __post_init__(self) -> None:
        check_text(self.id, "id", MAX_ID_CHARS)
        normalise(self, "name", clean_label(self.name, "name", MAX_NAME_CHARS))
        normalise(self, "role", as_role(self.role))
        check_boolean(self.can_draw, "can_draw")


def read_participant(value: object, path: str) -> ParticipantInfo:
    """A participant object at ``path``, from the server: unknown fields are ignored."""
    info = JsonObject(value, path, (), strict=False, what="a participant")
    return info.build(
        ParticipantInfo,
        id=info.text("id"),
        name=info.text("name"),
        role=info.text("role"),
        publishes=read_optional_publishes(info, strict=False),
        can_draw=info.boolean("can_draw", default=False),  # older servers leave it out
    )


def participant_to_json(info: ParticipantInfo) -> dict[str, Any]:
    """``info`` as it goes on the wire, every field present."""
    return {
        "id": info.id,
        "name": info.name,
        "role": info.role.value,
        "publishes": publishes_to_json(info.publishes),
        "can_draw": info.can_draw,
    }
