"""Shared pictures in a recording: each kept as it was sent, its stretch in the event log.

When a picture is shared into the session (ours, or someone's that arrived whole and
checked), :class:`SharedPictureLog` keeps its bytes in the case folder exactly as the
viewers got them: the de-identified PNG or JPEG of docs/protocol.md section 8.s, never
the file it was made from. It is ``shared-<id>.png`` (or ``.jpg``), sealed like every
other file of an encrypted case. The event log says when the picture was shown and
by whom (``share-start``, with the picture's file, SHA-256 and description) and when it
went (``share-stop``: stopped, replaced by another, or its sharer left). The marks drawn
on it need nothing more: they are logged as every mark is, and their ``source`` is
``share:<id>``, which ties them to the picture.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from surgery_teach.casefile.events import EventKind
from surgery_teach.errors import RecordingError
from surgery_teach.sharing.outgoing import picture_size
from surgery_teach.sharing.picture import MAX_SIDE

if TYPE_CHECKING:
    from surgery_teach.recording.recorder import Recorder
    from surgery_teach.rtc.session import LiveSession

logger = logging.getLogger("surgery_teach.recording")

#: The description fields a recording keeps (section 8.s); others a newer sharer may
#: add are not understood here, so they are not kept.
DESCRIPTION_FIELDS: Final = ("kind", "format", "width", "height", "index", "count", "window",
                             "modality", "title", "masked", "scaled")


@dataclass(frozen=True)
class HeldShare:
    """A picture a participant shares now, as this participant holds it."""

    share_id: str
    picture: bytes
    description: Mapping[str, Any]


def held_share(session: LiveSession, who: str) -> HeldShare | None:
    """The picture ``who`` shares as ``session`` holds it whole (ours, or received)."""
    if who == session.me.id:
        sender = session.shares.mine
        if sender is None:
            return None
        share = sender.share
        return HeldShare(share.share_id, share.picture, share.description)
    received = session.shares.viewing.get(who)
    if received is None:
        return None
    return HeldShare(received.share_id, received.picture, received.description)


def picture_file_name(share_id: str, picture: bytes) -> str:
    """``shared-<id>.png`` or ``.jpg``, after what the bytes are."""
    suffix = "png" if picture.startswith(b"\x89PNG") else "jpg"
    return f"shared-{share_id}.{suffix}"


class SharedPictureLog:
    """Keeps the pictures shared into ``recorder``'s session and logs their stretches.

    Call :meth:`update` with the session whenever it says a participant's share changed
    (its ``share`` event), and :meth:`take_over` when recording starts or goes on from
    a new session, for the pictures already shown. Loop thread.
    """

    def __init__(self, recorder: Recorder) -> None:
        self.recorder = recorder
        self.current: dict[str, str] = {}  # sharer's participant id -> share id shown now
        self.kept: dict[str, str] = {}  # share id -> its file in the case folder
        self._names: dict[str, tuple[str, str]] = {}  # sharer id -> (name, role) when it began

    def take_over(self, session: LiveSession) -> None:
        """Log the pictures ``session`` shows now (ours first, then others')."""
        for who in (session.me.id, *session.shares.viewing):
            self.update(session, who)

    def update(self, session: LiveSession, who: str) -> None:
        """``who``'s share changed in ``session``: log its stop, its start, or both."""
        held = held_share(session, who)
        current = self.current.get(who)
        if held is not None and held.share_id == current:
            return  # the same picture again (a link that came back)
        now = time.time()  # a replaced picture's stretch ends as the next one's begins
        if current is not None:
            self._stop(who, current, now)
        if held is None:
            return
        for other, shown in list(self.current.items()):
            if shown == held.share_id:  # the sharer's new identity after a reconnect
                self.current[who] = self.current.pop(other)
                self._names[who] = self._names.pop(other, ("", ""))
                return
        self._start(session, who, held, now)

    def _start(self, session: LiveSession, who: str, held: HeldShare, t: float) -> None:
        size = picture_size(held.picture)
        description = {k: held.description[k] for k in DESCRIPTION_FIELDS
                       if k in held.description}
        if size is None or not all(0 < side <= MAX_SIDE for side in size) or size != (
                description.get("width"), description.get("height")):
            logger.warning("a shared picture from %s is not recorded: its size is not the "
                           "one announced", who)
            return
        file = self.kept.get(held.share_id)
        if file is None:
            file = picture_file_name(held.share_id, held.picture)
            try:
                write = self.recorder.keep_file(file, held.picture)
            except RecordingError as exc:  # (a name taken: nothing of ours is written)
                logger.warning("a shared picture from %s is not recorded: %s", who, exc)
                return
            if write is None:
                return  # the recording is not running
            self.kept[held.share_id] = file
        person = session.me if who == session.me.id else session.participants.get(who)
        name, role = (person.name, person.role.value) if person is not None else ("", "")
        self._names[who] = (name, role)
        self.current[who] = held.share_id
        self.recorder.log(EventKind.SHARE_START, t=t, share=held.share_id, file=file,
                          sha256=hashlib.sha256(held.picture).hexdigest(),
                          bytes=len(held.picture), participant=who, name=name, role=role,
                          description=description)

    def _stop(self, who: str, share_id: str, t: float) -> None:
        del self.current[who]
        name, role = self._names.pop(who, ("", ""))
        self.recorder.log(EventKind.SHARE_STOP, t=t, share=share_id, participant=who, name=name,
                          role=role)
