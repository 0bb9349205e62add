from __future__ import annotations

from surgery_teach.annotations import Add, Arrow, Clear, ClearScope, Remove, Undo, Update
from surgery_teach.annotations.offline import OfflineQueue, reauthor

OLD, NEW = "p-0000aaaa", "p-1111bbbb"


def arrow(author: str, shape_id: str) -> Arrow:
    return Arrow(id=shape_id, author=author, source="Laparoscope", colour="#ff0000",
                 width=0.005, start=(0.1, 0.1), end=(0.5, 0.5))


def test_marks_made_offline_are_sent_under_the_new_identity_once_and_in_order() -> None:
    queue = OfflineQueue()
    queue.add("c-1", Add(arrow(OLD, f"{OLD}:7")))
    queue.add("c-2", Update(arrow(OLD, f"{OLD}:7")))
    queue.add("c-3", Undo(author=OLD))
    queue.add("c-4", Clear(ClearScope.MINE, "Laparoscope", author=OLD))
    queue.add("c-5", Remove(f"{OLD}:3", author=OLD))
    refs, released = zip(*queue.release(OLD, NEW), strict=True)
    assert refs == ("c-1", "c-2", "c-3", "c-4", "c-5")  # the same client op ids
    assert [type(op).__name__ for op in released] == ["Add", "Update", "Undo", "Clear", "Remove"]
    assert released[0].shape.author == NEW and released[0].shape.id == f"{NEW}:7"  # type: ignore[union-attr]
    assert released[1].shape.id == f"{NEW}:7"  # type: ignore[union-attr]
    assert all(op.author == NEW for op in released[2:])  # type: ignore[union-attr]
    assert released[4].id == f"{NEW}:3"  # type: ignore[union-attr]
    assert queue.release(OLD, NEW) == []  # exactly once
    assert len(queue) == 0


def test_other_authors_ops_are_left_alone_and_the_queue_is_bounded() -> None:
    other = Add(arrow("p-2222cccc", "p-2222cccc:1"))
    assert reauthor(other, OLD, NEW) == other
    queue = OfflineQueue(limit=2)
    for i in range(4):
        queue.add(f"c-{i}", Add(arrow(OLD, f"{OLD}:{i}")))
    assert len(queue) == 2 and queue.dropped == 2
