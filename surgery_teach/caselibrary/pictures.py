"""The pictures shared during a library case, fetched into its cache folder to be shown.

While a picture was shared the room looked at it instead of the video, so a student
playing the library's copy must see it too. The pictures (``shared-<id>.png`` or
``.jpg``, at most 16 MiB each) are small beside the media and read whole, so
:func:`fetch_shared_pictures` fetches each one the case's event log names, whole, into
the case's cache folder; the player and clip export then read it there as in a local
case. Each is checked against the SHA-256 its ``share-start`` event names: a picture
already cached and right is not fetched again, and one that is not the picture recorded
(changed on the library's disk) is kept as it came, so that reading it refuses it as
changed (:func:`~surgery_teach.casebook.shared_pictures.read_shared_picture`: the
player says so, in the user's language, and the video plays in its place), as for a
local case whose picture changed. Blocking: call from a worker thread.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path
from typing import Final

from surgery_teach.casebook.case import tolerant_events
from surgery_teach.casebook.shared_pictures import logged_pictures
from surgery_teach.casefile.events import EVENTS_FILE
from surgery_teach.casefile.sealed_folder import read_case_file, write_case_file
from surgery_teach.caselibrary.connection import LibraryConnection
from surgery_teach.caselibrary.wire import CaseSummary
from surgery_teach.errors import LibraryError, RecordingError

logger = logging.getLogger("surgery_teach.caselibrary")

MAX_PICTURE_BYTES: Final = 16 << 20  # a shared picture as sent (docs/protocol.md 8.s)


def fetch_shared_pictures(connection: LibraryConnection, case: CaseSummary,
                          folder: Path) -> list[str]:
    """Fetch into ``folder`` (``case``'s cache, its event log already there) every
    picture shared during ``case`` that the library lists and ``folder`` lacks; the
    names of those that are not the pictures recorded (the player will say they
    changed). A picture the library does not hold is left out (the player says it is
    missing); :class:`LibraryError` if the library cannot be reached."""
    listed = {f.name: f for f in case.files}
    changed = []
    for name, sha256 in logged_pictures(tolerant_events(folder / EVENTS_FILE)[0]).items():
        entry = listed.get(name)
        if entry is None:
            continue  # published without it
        path = folder / name
        if _holds(path, sha256):
            continue
        if entry.size > MAX_PICTURE_BYTES:
            logger.warning("library case %s lists %s at %d bytes, more than a shared "
                           "picture has; not fetched", case.id, name, entry.size)
            continue
        try:
            _, _, data = connection.request("GET", f"/cases/{case.id}/files/{name}")
        except LibraryError as exc:
            if exc.status != 404:
                raise
            logger.warning("library case %s lists %s but does not have it", case.id, name)
            continue
        if hashlib.sha256(data).hexdigest() != sha256:
            logger.warning("%s of library case %s is not the picture recorded (its SHA-256 "
                           "differs); the player will say it changed", name, case.id)
            changed.append(name)
        write_case_file(path, data)  # encrypted in a kept, encrypted copy
    return changed


def _holds(path: Path, sha256: str) -> bool:
    """Whether ``path`` is there and is the picture whose SHA-256 is ``sha256``."""
    try:
        return hashlib.sha256(read_case_file(path)).hexdigest() == sha256
    except (OSError, RecordingError):  # (missing, or sealed with a key not unlocked)
        return False
