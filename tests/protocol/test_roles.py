"""Role rules without a network: who may publish, signal, grant drawing and remove whom,
and the table of docs/protocol.md section 4.10 checked against them row by row."""

from __future__ import annotations

from pathlib import Path

import pytest

from surgery_teach.protocol.messages import (
    MAX_VIDEO_TRACKS,
    Answer,
    Candidate,
    Chat,
    ChatMessage,
    ErrorCode,
    ErrorReply,
    Join,
    Offer,
    ParticipantInfo,
    Publishes,
    RemoveParticipant,
    Role,
    Signal,
    TrackInfo,
    Welcome,
)
from surgery_teach.protocol.recording import chapter_refusal, record_refusal
from surgery_teach.protocol.roles import (
    PUBLISHING_LIMITS,
    grant_refusal,
    may_share,
    publishing_refusal,
    removal_refusal,
    signal_refusal,
)
from surgery_teach.protocol.room import Rooms

DOC = Path(__file__).resolve().parents[2] / "docs" / "protocol.md"
NOTHING = Publishes()


def _tracks(count: int) -> tuple[TrackInfo, ...]:
    return tuple(TrackInfo(f"t{n}", f"Camera {n}") for n in range(count))


def _someone(role: Role, publishes: Publishes = NOTHING) -> ParticipantInfo:
    return ParticipantInfo("p-00000001", "Someone", role, publishes)


# -- publishing -------------------------------------------------------------------------------


def test_video_comes_from_the_surgeon_and_mentors_trainees_speak_students_watch() -> None:
    for role in (Role.SURGEON, Role.MENTOR):
        assert publishing_refusal(role, Publishes(video=MAX_VIDEO_TRACKS, audio=True)) is None
    assert publishing_refusal(Role.TRAINEE, Publishes(audio=True)) is None
    assert publishing_refusal(Role.TRAINEE, Publishes(video=1)) == (
        "a trainee may publish only audio (asked for 1 video track); announce no more than "
        '"publishes":{"video":0,"audio":true}'
    )
    assert publishing_refusal(Role.STUDENT, Publishes(audio=True)) == (
        'a student may not publish media (asked for audio); leave "publishes" out: a student '
        "watches, listens and chats"
    )
    for role in Role:
        assert publishing_refusal(role, NOTHING) is None


# -- signal -----------------------------------------------------------------------------------


@pytest.mark.parametrize("role", list(Role))
def test_whoever_publishes_nothing_may_not_offer_or_trickle(role: Role) -> None:
    quiet = _someone(role)
    offer = signal_refusal(quiet, Offer("v=0"))
    assert offer is not None
    assert offer.startswith(f"a {role.value} who publishes nothing may not send offers")
    candidate = signal_refusal(quiet, Candidate(""))
    assert candidate is not None and "may not send ICE candidates" in candidate
    assert signal_refusal(quiet, Answer("v=0")) is None  # that is how watchers receive


@pytest.mark.parametrize("role", [Role.SURGEON, Role.MENTOR, Role.TRAINEE])
def test_a_publisher_offers_and_trickles_and_labels_up_to_its_video(role: Role) -> None:
    most = PUBLISHING_LIMITS[role]
    publisher = _someone(role, most)
    assert signal_refusal(publisher, Offer("v=0", _tracks(most.video))) is None
    assert signal_refusal(publisher, Answer("v=0", _tracks(most.video))) is None
    assert signal_refusal(publisher, Candidate("candidate:1 1 udp 1 192.0.2.1 9 typ host")) is None
    too_many = signal_refusal(publisher, Offer("v=0", _tracks(most.video + 1)))
    assert too_many is not None
    assert too_many.startswith(f"the offer labels {most.video + 1} video track(s)")


def test_an_answer_labelling_video_its_sender_did_not_announce_is_refused() -> None:
    refusal = signal_refusal(_someone(Role.STUDENT), Answer("v=0", _tracks(1)))
    assert refusal == (
        "the answer labels 1 video track(s) but you announced 0 in publishes; a student labels "
        "only the video it publishes (at most 0)"
    )


# -- grant-draw and remove --------------------------------------------------------------------


def test_only_mentors_grant_drawing() -> None:
    assert grant_refusal(Role.MENTOR) is None
    for role in (Role.SURGEON, Role.TRAINEE, Role.STUDENT):
        assert grant_refusal(role) == (
            f"a {role.value} may not let others draw; only a mentor may grant or revoke a "
            "trainee's drawing"
        )


def test_the_surgeon_and_mentors_remove_anyone_but_a_surgeon() -> None:
    for remover in (Role.SURGEON, Role.MENTOR):
        assert removal_refusal(remover) is None
        for target in (Role.MENTOR, Role.TRAINEE, Role.STUDENT):
            assert removal_refusal(remover, target) is None
        refusal = removal_refusal(remover, Role.SURGEON)
        assert refusal is not None
        assert refusal.startswith(f"a {remover.value} may not remove a surgeon")
    for remover in (Role.TRAINEE, Role.STUDENT):
        for target in [None, *Role]:
            assert removal_refusal(remover, target) == (
                f"a {remover.value} may not remove participants; only the surgeon and mentors "
                "may"
            )


# -- the rules inside the room ----------------------------------------------------------------


def _theatre() -> tuple[Rooms[str], dict[Role, str]]:
    rooms: Rooms[str] = Rooms(clock=lambda: 1000.0)
    ids = {}
    for role in Role:
        reply = rooms.handle(role.value, Join("theatre-1", role.value, role))[0][1]
        assert isinstance(reply, Welcome)
        ids[role] = reply.you.id
    return rooms, ids


def test_a_forbidden_message_reaches_nobody_and_the_sender_goes_on() -> None:
    rooms, ids = _theatre()
    outbox = rooms.handle("student", Signal(ids[Role.SURGEON], Offer("v=0"), id="o"))
    assert len(outbox) == 1
    recipient, error = outbox[0]
    assert recipient == "student" and isinstance(error, ErrorReply)
    assert (error.code, error.ref) == (ErrorCode.FORBIDDEN, "o")
    outbox = rooms.handle("student", Chat("may I ask a question?"))
    assert {recipient for recipient, _ in outbox} == {role.value for role in Role}
    assert all(isinstance(message, ChatMessage) for _, message in outbox)


def test_a_mentor_asked_to_remove_the_surgeon_is_refused_and_the_surgeon_stays() -> None:
    rooms, ids = _theatre()
    outbox = rooms.handle("mentor", RemoveParticipant(ids[Role.SURGEON], id=3))
    assert len(outbox) == 1
    error = outbox[0][1]
    assert isinstance(error, ErrorReply)
    assert (error.code, error.ref) == (ErrorCode.FORBIDDEN, 3)
    assert rooms.seat("surgeon") is not None


# -- the written rules ------------------------------------------------------------------------


def _table() -> dict[str, list[str]]:
    section = DOC.read_text(encoding="utf-8").split("### 4.10 Roles: who may send what")[1]
    rows = {}
    for line in section.split("\n\n")[2].splitlines()[2:]:
        first, *cells = (cell.strip() for cell in line.strip("|").split("|"))
        rows[first] = cells
    return rows


def _video(role: Role) -> str:
    if publishing_refusal(role, Publishes(video=1)) is not None:
        return "no"
    assert publishing_refusal(role, Publishes(video=MAX_VIDEO_TRACKS)) is None
    return f"0–{MAX_VIDEO_TRACKS} tracks"


def _offer(role: Role) -> str:
    most = PUBLISHING_LIMITS[role]
    allowed = signal_refusal(_someone(role, most), Offer("v=0")) is None
    assert signal_refusal(_someone(role), Offer("v=0")) is not None
    assert signal_refusal(_someone(role), Candidate("")) is not None
    return "while publishing" if allowed and most.any else "no"


def _labels(role: Role) -> str:
    most = _someone(role, PUBLISHING_LIMITS[role])
    if signal_refusal(most, Answer("v=0", _tracks(1))) is not None:
        return "no"
    assert signal_refusal(most, Answer("v=0", _tracks(MAX_VIDEO_TRACKS + 1))) is not None
    return "up to `publishes.video`"


def _removes(role: Role, target: Role) -> str:
    return "yes" if removal_refusal(role, target) is None else "no"


RULES = {
    "video in `publishes` (`join`, `publish`)": _video,
    "audio in `publishes` (speak)": lambda role: (
        "yes" if publishing_refusal(role, Publishes(audio=True)) is None else "no"
    ),
    "`signal` `offer` or `candidate`": _offer,
    "`signal` `answer`": lambda role: (
        "yes" if signal_refusal(_someone(role), Answer("v=0")) is None else "no"
    ),
    "video `tracks` labelled in an `offer` or `answer`": _labels,
    "`grant-draw`": lambda role: "yes" if grant_refusal(role) is None else "no",
    "`remove` a trainee or a student": lambda role: _removes(role, Role.TRAINEE),
    "`remove` a mentor": lambda role: _removes(role, Role.MENTOR),
    "`remove` a surgeon": lambda role: _removes(role, Role.SURGEON),
    "`record`, `chapter`": lambda role: (
        "yes" if record_refusal(role) is None and chapter_refusal(role) is None else "no"
    ),
}


@pytest.mark.parametrize("row", list(RULES))
def test_the_roles_table_matches_the_rules(row: str) -> None:
    cells = _table()[row]
    assert cells == [RULES[row](role) for role in Role]


def test_the_roles_table_has_a_column_per_role_and_sends_annotate_to_section_8_3() -> None:
    table = _table()
    assert all(len(cells) == len(Role) for cells in table.values())
    assert table["`join`, `leave`, `ping`, `chat`"] == ["yes"] * len(Role)
    assert table["`annotate`"] == ["section 8.3"] * len(Role)
    header = DOC.read_text(encoding="utf-8").split("| message | ")[1].splitlines()[0]
    assert [cell.strip(" `") for cell in header.strip("|").split("|")] == [r.value for r in Role]


@pytest.mark.parametrize(("role", "can_draw", "shares"), [
    (Role.SURGEON, True, True), (Role.MENTOR, True, True),
    (Role.TRAINEE, False, False), (Role.TRAINEE, True, True),
    (Role.STUDENT, False, False),
])
def test_who_may_share_a_picture(role: Role, can_draw: bool, shares: bool) -> None:
    """Surgeon and mentors share; a trainee only while allowed to draw; students never."""
    info = ParticipantInfo(id="p-1", name="Dr Ma", role=role, can_draw=can_draw)
    assert may_share(info) is shares
