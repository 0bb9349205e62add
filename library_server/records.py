"""What the index keeps of a stored case: its :class:`CaseSummary`, read from its folder.

The case is read with the same code the desktop library uses (:mod:`surgery_teach.casebook`),
so an interrupted or damaged recording is listed with the same plain-words problems, the
same participants (joins from the event log too) and the chapters as edited. The thumbnail
is made here once, on the server, so that no student decodes video to see a list.
Blocking (probes the media): call from a worker thread.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from library_server.store import Publication
from surgery_teach.casebook import build_timeline, open_case
from surgery_teach.casebook.library import read_entry
from surgery_teach.caselibrary.wire import CaseSummary
from surgery_teach.errors import LibraryError, RecordingError


def summarize(folder: Path, publication: Publication) -> CaseSummary:
    """The summary of the case in ``folder``; 422 ``unplayable`` if nothing in it plays."""
    try:
        entry = read_entry(folder, thumbnails=True)
        playable = open_case(folder)
    except RecordingError as exc:
        raise LibraryError(f"the case cannot be read: {exc}", status=422,
                           code="unplayable") from None
    if entry is None or not (entry.playable or playable.audio):
        problems = "; ".join(playable.problems) or "no media file opens"
        raise LibraryError(f"nothing in this case plays ({problems}); it was not published",
                           status=422, code="unplayable")
    timeline = build_timeline(playable.case, duration=playable.duration)
    manifest = playable.manifest
    return CaseSummary(
        id=publication.case,
        title=manifest.title,
        hospital=manifest.hospital,
        procedure=publication.procedure or manifest.title,
        date=manifest.date or (manifest.started_at.date() if manifest.started_at else None),
        started_at=manifest.started_at,
        duration=entry.duration,
        participants=entry.participants,
        chapters=tuple((c.title, round(c.time, 3)) for c in timeline.chapters),
        sources=entry.sources,
        audio=playable.audio,
        problems=tuple(str(p) for p in entry.problems),
        collections=publication.collections,
        files=publication.files,
        thumbnail=entry.thumbnail is not None,
        published_at=publication.published_at or dt.datetime.now(dt.UTC),
        publisher=publication.publisher,
        clips=publication.clips,
    )
