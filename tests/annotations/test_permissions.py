"""Who may send which annotation op: the whole table, role by role."""

from __future__ import annotations

import pytest

from surgery_teach.annotations import (
    Add,
    Arrow,
    Clear,
    ClearScope,
    Freeze,
    Op,
    Pointer,
    Redo,
    Remove,
    Undo,
    Unfreeze,
    Update,
    may,
)
from surgery_teach.protocol.messages import Role

ME, OTHER = "p-me", "p-other"
STYLE = {"source": "Laparoscope", "colour": "#ff0000", "width": 0.004}
MINE = Arrow(id="a", author=ME, start=(0.1, 0.1), end=(0.5, 0.5), **STYLE)
POINTER = Pointer(id="ptr", author=ME, at=(0.5, 0.5), **STYLE)

# (op, author of the mark it names or None) -> whether each column may send it.
COLUMNS = ("surgeon", "mentor", "trainee granted", "trainee not granted", "student")
TABLE: list[tuple[str, Op, str | None, tuple[bool, ...]]] = [
    ("add", Add(MINE), None, (True, True, True, False, False)),
    ("pointer", Add(POINTER), None, (True, True, True, False, False)),
    ("move pointer", Update(POINTER), ME, (True, True, True, False, False)),
    ("update own", Update(MINE), ME, (True, True, True, False, False)),
    ("update other's", Update(MINE), OTHER, (False, False, False, False, False)),
    ("remove own", Remove("a", author=ME), ME, (True, True, True, False, False)),
    ("remove other's", Remove("a", author=ME), OTHER, (False, True, False, False, False)),
    ("remove unknown", Remove("a", author=ME), None, (False, True, False, False, False)),
    (
        "clear mine",
        Clear(ClearScope.MINE, "Laparoscope", author=ME),
        None,
        (True, True, True, False, False),
    ),
    (
        "clear all",
        Clear(ClearScope.ALL, "Laparoscope", author=ME),
        None,
        (True, True, False, False, False),
    ),
    ("undo", Undo(ME), None, (True, True, True, False, False)),
    ("redo", Redo(ME), None, (True, True, True, False, False)),
    ("freeze", Freeze("Laparoscope", 1.0, author=ME), None, (True, True, False, False, False)),
    ("unfreeze", Unfreeze("Laparoscope", author=ME), None, (True, True, False, False, False)),
]
PARTICIPANTS = [
    (Role.SURGEON, False),
    (Role.MENTOR, False),
    (Role.TRAINEE, True),
    (Role.TRAINEE, False),
    (Role.STUDENT, True),  # a grant means nothing to a student
]


@pytest.mark.parametrize(
    ("name", "op", "shape_author", "allowed"), TABLE, ids=[t[0] for t in TABLE]
)
def test_permission_table(
    name: str, op: Op, shape_author: str | None, allowed: tuple[bool, ...]
) -> None:
    got = tuple(
        may(role, op, trainee_granted=granted, shape_author=shape_author)
        for role, granted in PARTICIPANTS
    )
    assert dict(zip(COLUMNS, got, strict=True)) == dict(zip(COLUMNS, allowed, strict=True))


def test_roles_given_as_wire_strings_work_and_unknown_roles_may_nothing() -> None:
    assert may("mentor", Clear(ClearScope.ALL, "s", author=ME), trainee_granted=False)
    assert not may("nurse", Add(MINE), trainee_granted=True)
    assert not may("nurse", Undo(ME), trainee_granted=True)


@pytest.mark.parametrize(("role", "granted", "allowed"), [
    (Role.SURGEON, False, True), (Role.MENTOR, False, True), (Role.TRAINEE, True, False),
    (Role.STUDENT, False, False)])
def test_the_marks_of_someone_who_left_may_be_removed_by_the_surgeon_and_mentors(
        role: Role, granted: bool, allowed: bool) -> None:
    """Pinned marks of a mentor who left would otherwise stay on everyone's video."""
    remove = Remove("a", author=ME)
    assert may(role, remove, trainee_granted=granted, shape_author=OTHER,
               author_present=False) is allowed
    if role is Role.SURGEON:  # but not the marks of someone still in the room
        assert not may(role, remove, trainee_granted=granted, shape_author=OTHER)
        assert not may(role, remove, trainee_granted=granted, shape_author=None,
                       author_present=False)
