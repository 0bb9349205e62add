"""Unconfirmed chat and drawing: each goes out once per link, again after a drop, in order."""

from __future__ import annotations

from surgery_teach.annotations import Add, Arrow
from surgery_teach.protocol.messages import Annotate, Chat
from surgery_teach.rtc.outbox import Outbox


def arrow(author: str) -> Add:
    return Add(Arrow(id=f"{author}:1", author=author, source="Laparoscope", colour="#ffd400",
                     width=0.004, start=(0.1, 0.1), end=(0.5, 0.5)))


def test_each_message_goes_out_once_per_link_and_again_after_a_drop_until_confirmed() -> None:
    outbox = Outbox()
    said = outbox.chat("Show the artery")
    drawn = outbox.annotate(arrow("p-1"), "ui-7")
    assert isinstance(said, Chat) and isinstance(drawn, Annotate) and drawn.id == "ui-7"
    assert outbox.to_send() == [said, drawn]
    assert outbox.to_send() == []  # already on this link
    outbox.settle(said.id)
    outbox.link_lost()
    later = outbox.chat("Thanks")
    assert outbox.to_send() == [drawn, later]  # unconfirmed first, in the order made
    assert len(outbox) == 2


def test_a_new_participant_id_reauthors_the_waiting_ops_and_ids_stay_unique() -> None:
    outbox = Outbox()
    drawn = outbox.annotate(arrow("p-old"))
    outbox.rebase("p-old", "p-new")
    (again,) = outbox.to_send()
    assert isinstance(again, Annotate) and again.id == drawn.id  # type: ignore[union-attr]
    assert again.op.shape.author == "p-new" and again.op.shape.id == "p-new:1"  # type: ignore[attr-defined]
    assert Outbox().chat("x").id != Outbox().chat("x").id  # type: ignore[union-attr]


def test_beyond_the_limit_new_messages_are_dropped_and_counted() -> None:
    outbox = Outbox(limit=1)
    assert outbox.chat("one") is not None
    assert outbox.chat("two") is None and outbox.dropped == 1
