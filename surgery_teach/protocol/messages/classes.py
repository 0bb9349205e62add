"""Classes: a room moves from peer to peer onto the media server (Janus) and back.

A room runs peer to peer while it is small. When the surgeon or a mentor asks for class
mode (``class-mode``, :class:`ClassMode`), or when it has more viewers than the server's
threshold, the server opens a room on the media server and tells each participant where
to send and fetch media (``media-route``, :class:`MediaRoute`): the media server's
address, the room's number there and a token of that participant's own. When the room
goes back to peer to peer, or the media server cannot be used, ``media-route`` says
``"mode":"peer"`` and why. Each message is followed by its reader and writer and the
:class:`~.common.WireForm` the envelope lists.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from surgery_teach.protocol.messages.common import WireForm, check_boolean
from surgery_teach.wire.fields import (
    MAX_ID_CHARS,
    JsonObject,
    MessageRef,
    bad,
    check_ref,
    check_text,
    show,
)

PEER: Final = "peer"
CLASS: Final = "class"
MAX_URL_CHARS: Final = 512
MAX_REASON_CHARS: Final = 500
MAX_MEDIA_ROOM: Final = 2**53 - 1  # Janus room numbers are JSON integers


@dataclass(frozen=True)
class ClassMode:
    """Ask for class mode (``on`` true: through the media server whatever the room's size)
    or give it up (wire type ``class-mode``). Surgeons and mentors only."""

    on: bool
    id: MessageRef = None

    def __post_init__(self) -> None:
        check_boolean(self.on, "on")
        check_ref(self.id)


CLASS_MODE_FORM: Final = WireForm(
    "class-mode",
    ClassMode,
    lambda msg: msg.build(ClassMode, on=msg.boolean("on"), id=msg.ref()),
    lambda msg: {"on": msg.on},
    fields=("on",),
)


@dataclass(frozen=True)
class MediaRoute:
    """Where this participant's media goes now (wire type ``media-route``).

    ``mode`` ``"class"``: through the media server at ``url`` (its WebSocket API), in its
    room number ``room``, with ``token`` (this participant's alone; never show or log
    it). ``mode`` ``"peer"``: peer to peer; ``reason`` says why when the room could not
    move (the media server is down or refused) or moved back.
    """

    mode: str
    url: str = ""
    room: int = 0
    token: str = ""
    reason: str = ""

    def __post_init__(self) -> None:
        if self.mode not in (PEER, CLASS):
            raise bad("mode", f'must be "peer" or "class" (got {show(self.mode)})')
        check_text(self.reason, "reason", MAX_REASON_CHARS, allow_empty=True)
        if self.mode == CLASS:
            check_text(self.url, "url", MAX_URL_CHARS)
            if not self.url.startswith(("ws://", "wss://")):
                raise bad("url", f"must be a ws:// or wss:// address (got {show(self.url)})")
            if isinstance(self.room, bool) or not isinstance(self.room, int) \
                    or not 0 < self.room <= MAX_MEDIA_ROOM:
                raise bad("room", f"must be a room number from 1 (got {show(self.room)})")
            check_text(self.token, "token", MAX_ID_CHARS * 2)

    def __repr__(self) -> str:  # the token stays out of logs
        return f"MediaRoute(mode={self.mode!r}, url={self.url!r}, room={self.room!r})"


def _read_route(msg: JsonObject) -> MediaRoute:
    mode = msg.text("mode")
    if mode == CLASS:
        return msg.build(MediaRoute, mode=mode, url=msg.text("url"), room=msg.integer("room"),
                         token=msg.text("token"), reason=msg.text("reason", default=""))
    return msg.build(MediaRoute, mode=mode, reason=msg.text("reason", default=""))


def _body_route(msg: MediaRoute) -> dict[str, Any]:
    body: dict[str, Any] = {"mode": msg.mode}
    if msg.mode == CLASS:
        body.update(url=msg.url, room=msg.room, token=msg.token)
    if msg.reason:
        body["reason"] = msg.reason
    return body


MEDIA_ROUTE_FORM: Final = WireForm("media-route", MediaRoute, _read_route, _body_route)
