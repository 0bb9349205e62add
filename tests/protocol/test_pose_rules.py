"""Anchored marks in the room: who may anchor a mark, who may send its poses, how often."""

from __future__ import annotations

import pytest

from surgery_teach.annotations import Add
from surgery_teach.annotations.poses import MAX_PLACES, Anchor, MarkPlace, Poses
from surgery_teach.errors import ProtocolError
from surgery_teach.protocol.messages import Annotation, ErrorCode, Leave, Publish, Publishes
from surgery_teach.protocol.pose_rules import POSES_BURST, POSES_PER_SECOND
from tests.protocol.test_telestration import LAP, Theatre, refused


def publishing(theatre: Theatre, conn: str) -> None:
    theatre.deliver(theatre.rooms.handle(conn, Publish(Publishes(video=1))))


def poses(theatre: Theatre, conn: str, frame: int = 1, mark: str = "m:1") -> Poses:
    place = MarkPlace(mark, (1.0, 0.0, 0.01 * frame, 0.0, 1.0, 0.0), confidence=0.9)
    return Poses(LAP, frame, 1000.0 + frame / 30, (place,), author=theatre.ids[conn])


def anchored_mark(theatre: Theatre) -> None:
    theatre.send("mentor", Add(theatre.arrow("mentor", "m:1", pinned=True, anchored=True)))


def test_a_mark_drawn_anchored_reaches_everyone_anchored() -> None:
    theatre = Theatre()
    anchored_mark(theatre)
    shape = theatre.board.get("m:1")
    assert shape is not None and shape.anchored
    got = [m for m in theatre.seen["trainee"] if isinstance(m, Annotation)]
    assert isinstance(got[-1].op, Add) and got[-1].op.shape.anchored


def test_the_author_or_a_mentor_anchors_a_mark_but_not_another_trainee() -> None:
    theatre = Theatre()
    theatre.grant("mentor", "trainee")
    theatre.send("trainee", Add(theatre.arrow("trainee", "t:1", pinned=True)))
    theatre.send("mentor", Add(theatre.arrow("mentor", "m:1", pinned=True)))
    # the trainee may not anchor the mentor's mark
    refused(theatre.send("trainee", Anchor("m:1", True, author=theatre.ids["trainee"])),
            "trainee")
    # the trainee anchors their own; the mentor anchors the trainee's back off
    theatre.send("trainee", Anchor("t:1", True, author=theatre.ids["trainee"]))
    assert theatre.board.get("t:1").anchored  # type: ignore[union-attr]
    theatre.send("mentor", Anchor("t:1", False, author=theatre.ids["mentor"]))
    assert not theatre.board.get("t:1").anchored  # type: ignore[union-attr]
    # a student draws nothing, so anchors nothing
    reply = refused(theatre.send("student", Anchor("m:1", True, author=theatre.ids["student"])),
                    "student")
    assert "student" in reply.message


def test_anchoring_a_mark_that_is_not_there_names_the_mark() -> None:
    theatre = Theatre()
    reply = refused(theatre.send("mentor", Anchor("m:9", True, author=theatre.ids["mentor"])),
                    "mentor")
    assert "'m:9'" in reply.message


def test_only_a_participant_who_publishes_video_sends_poses() -> None:
    theatre = Theatre()
    anchored_mark(theatre)
    reply = refused(theatre.send("surgeon", poses(theatre, "surgeon")), "surgeon")
    assert "publish" in reply.message
    publishing(theatre, "surgeon")
    outbox = theatre.send("surgeon", poses(theatre, "surgeon"))
    assert {conn for conn, _ in outbox} == {"surgeon", "mentor", "trainee", "student"}
    place = theatre.board.place(theatre.board.get("m:1"))  # type: ignore[arg-type]
    assert place is not None and place.transform[2] == 0.01


def test_a_source_s_poses_come_from_one_publisher_until_they_leave() -> None:
    theatre = Theatre()
    anchored_mark(theatre)
    publishing(theatre, "surgeon")
    publishing(theatre, "mentor")
    theatre.send("surgeon", poses(theatre, "surgeon"))
    reply = refused(theatre.send("mentor", poses(theatre, "mentor", 2)), "mentor")
    assert theatre.ids["surgeon"] in reply.message
    theatre.deliver(theatre.rooms.handle("surgeon", Leave()))
    outbox = theatre.send("mentor", poses(theatre, "mentor", 3))
    assert any(isinstance(m, Annotation) and isinstance(m.op, Poses) for _, m in outbox)


def test_a_flood_of_poses_is_refused_and_the_rate_recovers() -> None:
    theatre = Theatre()
    anchored_mark(theatre)
    publishing(theatre, "surgeon")
    for frame in range(1, POSES_BURST + 1):
        theatre.send("surgeon", poses(theatre, "surgeon", frame))
    refused(theatre.send("surgeon", poses(theatre, "surgeon", 99)), "surgeon",
            ErrorCode.RATE_LIMITED)
    theatre.clock.now += 1.0 / POSES_PER_SECOND * 1.01
    outbox = theatre.send("surgeon", poses(theatre, "surgeon", 100))
    assert len(outbox) == 4


def test_poses_are_bounded_in_size() -> None:
    places = tuple(MarkPlace(f"m:{n}") for n in range(MAX_PLACES + 1))
    with pytest.raises(ProtocolError, match=f"limit is {MAX_PLACES}"):
        Poses(LAP, 1, 1.0, places, author="s")


def test_a_publisher_sends_poses_for_no_more_sources_than_it_publishes() -> None:
    """Each new source name would grow the room's poses and snapshot: one video, one
    source's poses (a mentor with a camera cannot fill the room with made-up sources)."""
    theatre = Theatre()
    anchored_mark(theatre)
    publishing(theatre, "mentor")
    theatre.send("mentor", poses(theatre, "mentor"))
    place = MarkPlace("m:1", (1.0, 0.0, 0.0, 0.0, 1.0, 0.0))
    other = Poses("made-up source", 1, 1000.0, (place,), author=theatre.ids["mentor"])
    reply = refused(theatre.send("mentor", other), "mentor")
    assert "made-up source" in reply.message
