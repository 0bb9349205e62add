"""Marks drawn while the link is down show at once, until the server's copies arrive;
who froze a picture is known from the board; each author has a colour of their own."""

from __future__ import annotations

from surgery_teach.annotations import Add, Arrow, Board, Freeze, Remove, Unfreeze, Update
from surgery_teach.annotations.colours import default_colour
from surgery_teach.annotations.pending import PendingMarks
from surgery_teach.protocol.messages import Role

LAP = "Laparoscope"


def arrow(author: str, n: int, x: float = 0.5) -> Arrow:
    return Arrow(id=f"{author}:{n}", author=author, source=LAP, colour="#ffd60a", width=0.005,
                 pinned=True, start=(0.1, 0.1), end=(x, 0.5))


def test_pending_marks_show_until_the_server_has_them_even_under_a_new_id() -> None:
    pending = PendingMarks()
    pending.add(Add(arrow("p-old", 1)))
    pending.add(Update(arrow("p-old", 1, x=0.7)))
    pending.add(Add(arrow("p-old", 2)))
    assert len(pending) == 2
    shown = pending.shapes(LAP, now=0.0)
    assert [s.shape.end for s in shown] == [(0.7, 0.5), (0.5, 0.5)]  # the update applied
    # The rejoin gave us a new id: the server's copies are re-authored, counts kept.
    confirmed = Board()
    confirmed.apply(Add(arrow("p-new", 1, x=0.7), seq=1))
    confirmed.apply(Add(arrow("p-other", 2), seq=2))  # someone else's mark 2: not ours
    pending.settle(confirmed.view(), me="p-new")
    assert [s.shape.id for s in pending.shapes(LAP, now=0.0)] == ["p-old:2"]
    pending.add(Remove("p-old:2", author="p-old"))  # taken back before it was sent
    assert len(pending) == 0 and pending.shapes(LAP, now=0.0) == []
    pending.add(Add(arrow("p-new", 3)))
    pending.clear()
    assert len(pending) == 0


def test_the_board_knows_who_froze_a_picture() -> None:
    board = Board()
    assert board.frozen_by(LAP) is None and board.view().frozen_by(LAP) is None
    board.apply(Freeze(LAP, 12.5, author="p-li", seq=1))
    assert board.frozen_by(LAP) == "p-li" and board.view().frozen_by(LAP) == "p-li"
    rebuilt = Board.from_snapshot(board.snapshot())  # a late joiner knows it too
    assert rebuilt.view().frozen_by(LAP) == "p-li"
    board.apply(Unfreeze(LAP, author="p-wang", seq=2))
    assert board.view().frozen_by(LAP) is None


def test_each_drawer_starts_with_a_colour_of_their_own() -> None:
    palette = ["#ffd60a", "#64d2ff", "#30d158"]
    surgeon = default_colour([], palette)
    mentor = default_colour([Role.SURGEON, Role.STUDENT], palette)  # students do not count
    trainee = default_colour([Role.SURGEON, Role.STUDENT, Role.MENTOR], palette)
    assert len({surgeon, mentor, trainee}) == 3
    assert default_colour(["surgeon", "mentor", "trainee"], palette) == surgeon  # wraps
