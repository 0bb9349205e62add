"""What the signaling message modules share: how a message type goes on the wire.

Each concept module (session, signaling, chat, telestration, recording) describes each of
its message types once, as a :class:`WireForm`: the wire ``type``, the class, how to read
it from a checked JSON object and how to write its body. :mod:`.envelope` lists those
forms in its tables; it is the only module that knows every message type, so the concept
modules never import it and nothing imports in a circle. The rules for single fields
(lengths, ids, names) are in :mod:`surgery_teach.wire.fields`; the few checks here are
the ones only messages use.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from surgery_teach.wire.fields import JsonObject, MessageRef, bad, json_kind

M = TypeVar("M")


@dataclass(frozen=True)
class WireForm(Generic[M]):
    """How one message type goes on the wire and comes off it.

    ``read`` builds the message from its JSON object; ``body`` returns the fields that
    follow ``v`` and ``type``, in wire order (a client message's ``id`` is added after
    them). ``fields`` are those a client message may carry besides ``v``, ``type`` and
    ``id``: clients are read strictly. Server forms leave it empty; they are read
    leniently, ignoring fields they do not know.
    """

    # ``{"v":1,...`` in the ``text`` writers: protocol version 1 (the envelope's).

    wire_type: str
    cls: type[M]
    read: Callable[[JsonObject], M]
    body: Callable[[M], dict[str, Any]]
    fields: tuple[str, ...] = ()
    text: Callable[[M], str] | None = None
    """A faster writer of the whole message (envelope included), for messages that carry
    marks: the same text, byte for byte, as ``body`` through the envelope."""


def normalise(obj: object, name: str, value: object) -> None:
    """Replace a field of a frozen dataclass from its ``__post_init__``."""
    object.__setattr__(obj, name, value)


def check_boolean(value: object, field: str) -> None:
    """Refuse anything but a real ``bool`` (not 1, not ``"yes"``) for ``field``."""
    if not isinstance(value, bool):
        raise bad(field, f"must be true or false (got {json_kind(value)})")


def with_ref(body: dict[str, Any], ref: MessageRef) -> dict[str, Any]:
    """``body`` with ``ref`` last, left out when there is none (only the author has one)."""
    return body if ref is None else {**body, "ref": ref}
