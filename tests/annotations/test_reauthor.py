from __future__ import annotations

from surgery_teach.annotations import Add, Arrow, Clear, ClearScope, Op, Remove, Undo, Update
from surgery_teach.annotations.reauthor import reauthor

OLD, NEW = "p-0000aaaa", "p-1111bbbb"


def arrow(author: str, shape_id: str) -> Arrow:
    return Arrow(id=shape_id, author=author, source="Laparoscope", colour="#ff0000",
                 width=0.005, start=(0.1, 0.1), end=(0.5, 0.5))


def test_marks_made_offline_go_out_under_the_new_identity() -> None:
    ops: list[Op] = [
        Add(arrow(OLD, f"{OLD}:7")),
        Update(arrow(OLD, f"{OLD}:7")),
        Undo(author=OLD),
        Clear(ClearScope.MINE, "Laparoscope", author=OLD),
        Remove(f"{OLD}:3", author=OLD),
    ]
    released = [reauthor(op, OLD, NEW) for op in ops]
    assert [type(op).__name__ for op in released] == ["Add", "Update", "Undo", "Clear", "Remove"]
    assert released[0].shape.author == NEW and released[0].shape.id == f"{NEW}:7"  # type: ignore[union-attr]
    assert released[1].shape.id == f"{NEW}:7"  # type: ignore[union-attr]
    assert all(op.author == NEW for op in released[2:])  # type: ignore[union-attr]
    assert released[4].id == f"{NEW}:3"  # type: ignore[union-attr]


def test_other_authors_ops_are_left_alone() -> None:
    other = Add(arrow("p-2222cccc", "p-2222cccc:1"))
    assert reauthor(other, OLD, NEW) == other
