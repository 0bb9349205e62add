"""Reading recorded cases back, without Qt: the student library and the player's core.

:func:`scan_library` lists cases, :func:`open_case` opens one whatever its state,
:func:`build_timeline` lays out its events and marks, :class:`SourcePlayer` and
:class:`RecordedAudio` decode it, :func:`export_clip` writes an MP4, and :mod:`.chapters`
edits chapters afterwards.
"""

from __future__ import annotations

from surgery_teach.casebook.audio import (
    AudioChunk,
    RecordedAudio,
)
from surgery_teach.casebook.case import (
    RecordedCase,
    open_recording,
)
from surgery_teach.casebook.chapters import (
    Chapter,
    add_chapter,
    delete_chapter,
    move_chapter,
    rename_chapter,
    reset_chapters,
    save_chapters,
)
from surgery_teach.casebook.export import (
    ExportOptions,
    export_clip,
)
from surgery_teach.casebook.library import (
    LibraryEntry,
    SortKey,
    ensure_thumbnail,
    scan_library,
    search_library,
    sort_library,
)
from surgery_teach.casebook.playable import (
    PlayableCase,
    open_case,
)
from surgery_teach.casebook.playback import (
    PlaybackFrame,
    SourcePlayer,
)
from surgery_teach.casebook.timeline import (
    ChatLine,
    FreezeInterval,
    MarkTick,
    Presence,
    Timeline,
    build_timeline,
)

__all__ = [
    "AudioChunk",
    "Chapter",
    "ChatLine",
    "ExportOptions",
    "FreezeInterval",
    "LibraryEntry",
    "MarkTick",
    "PlayableCase",
    "PlaybackFrame",
    "Presence",
    "RecordedAudio",
    "RecordedCase",
    "SortKey",
    "SourcePlayer",
    "Timeline",
    "add_chapter",
    "build_timeline",
    "delete_chapter",
    "ensure_thumbnail",
    "export_clip",
    "move_chapter",
    "open_case",
    "open_recording",
    "rename_chapter",
    "reset_chapters",
    "save_chapters",
    "scan_library",
    "search_library",
    "sort_library",
]
