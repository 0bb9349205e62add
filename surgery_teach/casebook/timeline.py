"""A recorded case on one time axis: case time 0 is the recording's start.

:func:`build_timeline` reads a :class:`RecordedCase`'s event log into what a player
shows beside the video: chapters (with edits made afterwards, :mod:`.chapters`), chat,
who joined and left, freeze-frame intervals, the stretches a picture was shared
(:mod:`.shared_pictures`), ticks where marks were drawn, and the marks themselves.
:meth:`Timeline.marks_at` replays the logged annotation ops through the same
:class:`~surgery_teach.annotations.Board` the live session used, so fading, pins, undo and
clear come out exactly as they were shown (on a shared picture too: its marks' source
names it). Pure: no decoding, no Qt.
"""

from __future__ import annotations

import bisect
import copy
import logging
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from surgery_teach.annotations.board import Board, VisibleShape
from surgery_teach.annotations.ops import Add, Freeze, Op, Unfreeze
from surgery_teach.annotations.poses import MarkPlace
from surgery_teach.annotations.wire import parse_op
from surgery_teach.casebook.case import RecordedCase
from surgery_teach.casebook.chapters import Chapter, read_chapter_edits, recorded_chapters
from surgery_teach.casebook.shared_pictures import SharedStretch, shared_stretches, shown_at
from surgery_teach.casefile.events import EventKind
from surgery_teach.errors import ProtocolError, RecordingError

logger = logging.getLogger("surgery_teach.recording")

_CHECKPOINT_EVERY: Final = 256  # ops between saved boards, so a backward seek replays few


@dataclass(frozen=True)
class BoardState:
    """The whole board replaced at once (a ``board`` event): the marks present when the
    recording started, or the room's state after an undo or redo."""

    ops: tuple[Op, ...]
    seq: int


@dataclass(frozen=True)
class ChatLine:
    time: float  # case seconds
    sender: str
    role: str
    text: str


@dataclass(frozen=True)
class Presence:
    """Someone joined (``joined``) or left at ``time``."""

    time: float
    name: str
    role: str
    joined: bool


@dataclass(frozen=True)
class FreezeInterval:
    """``source`` was held from ``start`` to ``end`` (``None``: to the end of the case)
    on the frame captured at case time ``frame_time``."""

    source: str
    start: float
    end: float | None
    frame_time: float

    def covers(self, t: float) -> bool:
        return self.start <= t and (self.end is None or t < self.end)


@dataclass(frozen=True)
class PrivacyPause:
    """The video was paused for privacy by ``by`` from ``start`` to ``end`` (``None``: to
    the end of the case): the pictures there are the "paused for privacy" card."""

    start: float
    end: float | None
    by: str


@dataclass(frozen=True)
class MarkTick:
    """A mark was started (or a pointer shown) on ``source`` at ``time``: a timeline tick."""

    time: float
    source: str
    kind: str


def case_start(case: RecordedCase) -> float:
    """The capture-clock time of case time 0: the ``recording-start`` event, else the
    manifest's start, else the earliest file origin or event."""
    for event in case.events:
        if event.kind is EventKind.RECORDING_START:
            return event.t
    if case.manifest.started_at is not None:
        return case.manifest.started_at.timestamp()
    origins = [s.clock_origin for s in case.manifest.sources if s.clock_origin is not None]
    if case.manifest.audio is not None and case.manifest.audio.clock_origin is not None:
        origins.append(case.manifest.audio.clock_origin)
    times = origins + [e.t for e in case.events]
    if not times:
        raise RecordingError(
            f"{case.folder} has no start time: no manifest start, events or media",
            str(case.folder),
        )
    return min(times)


class Timeline:
    """What happened when in a case, in case seconds. Build with :func:`build_timeline`.

    Every attribute is read-only; :meth:`with_chapters` gives a timeline with edited
    chapters. :meth:`marks_at` may be called from any thread (it takes a lock); a
    player or exporter that walks forward should use its own :meth:`mark_replay`.
    """

    def __init__(
        self,
        *,
        start: float,
        duration: float,
        chapters: Sequence[Chapter],
        chat: Sequence[ChatLine],
        presence: Sequence[Presence],
        freezes: Sequence[FreezeInterval],
        mark_ticks: Sequence[MarkTick],
        ops: Sequence[tuple[float, Op | BoardState]],
        chapter_problem: str | None = None,
        authors: Mapping[str, str] | None = None,
        privacy: Sequence[PrivacyPause] = (),
        shares: Sequence[SharedStretch] = (),
    ) -> None:
        self.start = start
        self.duration = duration
        self.chapters: tuple[Chapter, ...] = tuple(chapters)
        self.chat: tuple[ChatLine, ...] = tuple(chat)
        self.presence: tuple[Presence, ...] = tuple(presence)
        self.freezes: tuple[FreezeInterval, ...] = tuple(freezes)
        self.mark_ticks: tuple[MarkTick, ...] = tuple(mark_ticks)
        self.privacy: tuple[PrivacyPause, ...] = tuple(privacy)  # pauses, in time order
        self.shares: tuple[SharedStretch, ...] = tuple(shares)  # shared pictures, by start
        self.chapter_problem = chapter_problem  # chapters.json unreadable: why
        self.authors: dict[str, str] = dict(authors or {})  # participant id -> display name
        self._ops: tuple[tuple[float, Op | BoardState], ...] = tuple(ops)
        self._op_times = [t for t, _ in self._ops]
        self._lock = threading.Lock()
        self._replay: MarkReplay | None = None

    # -- clocks ------------------------------------------------------------------------------

    def case_time(self, clock: float) -> float:
        """Case seconds of a capture-clock time (event ``t``, stamp, ``clock_origin``)."""
        return clock - self.start

    def clock_time(self, t: float) -> float:
        """The capture-clock time of case time ``t``."""
        return self.start + t

    # -- lookups -----------------------------------------------------------------------------

    def chapter_at(self, t: float) -> Chapter | None:
        """The chapter playing at ``t`` (the last one starting at or before it)."""
        current = None
        for chapter in self.chapters:
            if chapter.time > t:
                break
            current = chapter
        return current

    def frozen_at(self, t: float, source: str) -> FreezeInterval | None:
        """The freeze holding ``source`` at ``t``, if any: show its ``frame_time`` frame."""
        for interval in self.freezes:
            if interval.source == source and interval.covers(t):
                return interval
        return None

    def shared_at(self, t: float) -> SharedStretch | None:
        """The shared picture shown at ``t`` instead of the video, if any: show it with
        the marks of its :attr:`~.shared_pictures.SharedStretch.source`."""
        return shown_at(self.shares, t)

    def chat_until(self, t: float) -> tuple[ChatLine, ...]:
        """Chat lines sent at or before ``t`` (what the chat panel shows then)."""
        return self.chat[: bisect.bisect_right([c.time for c in self.chat], t)]

    def marks_at(self, t: float, source: str) -> list[VisibleShape]:
        """The marks on ``source`` at case time ``t`` with their opacity, bottom first,
        exactly as the live board showed them. Thread-safe."""
        with self._lock:
            if self._replay is None:
                self._replay = self.mark_replay()
            return self._replay.shapes(t, source)

    def places_at(self, t: float, source: str,
                  frame_time: float | None = None) -> dict[str, MarkPlace]:
        """Where anchored marks on ``source`` are at case time ``t``
        (:meth:`MarkReplay.places`); pass with :meth:`marks_at` to the painter.
        Thread-safe."""
        with self._lock:
            if self._replay is None:
                self._replay = self.mark_replay()
            return self._replay.places(t, source, frame_time)

    def mark_replay(self) -> MarkReplay:
        """A replay of the marks for one thread; fastest when ``t`` moves forward."""
        return MarkReplay(self.start, self._ops, self._op_times)

    def with_chapters(self, chapters: Sequence[Chapter]) -> Timeline:
        """This timeline with ``chapters`` (after an edit saved with :mod:`.chapters`)."""
        timeline = copy.copy(self)
        timeline.chapters = tuple(sorted(chapters, key=lambda c: (c.time, c.id)))
        timeline.chapter_problem = None
        timeline._lock = threading.Lock()
        timeline._replay = None
        return timeline


POSES_AHEAD = 0.5
"""Seconds of poses a replay reads ahead: a picture's poses follow it by up to this."""


class MarkReplay:
    """Replays logged ops onto a :class:`Board` up to a case time; one thread only."""

    def __init__(
        self, start: float, ops: Sequence[tuple[float, Op | BoardState]],
        op_times: Sequence[float],
    ) -> None:
        self._start = start
        self._ops = ops
        self._times = op_times
        self._board = Board()
        self._applied = 0  # ops applied to self._board
        self._checkpoints: list[tuple[int, Board]] = [(0, Board())]
        self._ahead: MarkReplay | None = None  # the same ops, read ahead for poses

    def board_at(self, t: float) -> Board:
        """The board after every op logged at or before case time ``t``. Do not modify it."""
        wanted = bisect.bisect_right(self._times, t)
        if wanted < self._applied:
            index = bisect.bisect_right([n for n, _ in self._checkpoints], wanted) - 1
            self._applied, saved = self._checkpoints[index]
            self._board = copy.deepcopy(saved)
        while self._applied < wanted:
            item = self._ops[self._applied][1]
            if isinstance(item, BoardState):
                self._board = Board.from_snapshot(item.ops, last_seq=item.seq)
            else:
                self._board.apply(item)
            self._applied += 1
            if self._applied % _CHECKPOINT_EVERY == 0 and self._applied > self._checkpoints[-1][0]:
                self._checkpoints.append((self._applied, copy.deepcopy(self._board)))
        return self._board

    def shapes(self, t: float, source: str) -> list[VisibleShape]:
        """The visible marks of ``source`` at case time ``t`` (fades judged at that time)."""
        return self.board_at(t).shapes(source, self._start + t)

    def places(self, t: float, source: str,
               frame_time: float | None = None) -> dict[str, MarkPlace]:
        """Where the anchored marks of ``source`` are in the picture shown at case time
        ``t``, captured at ``frame_time`` (default: the case clock at ``t``), as the live
        poses put them (:meth:`Board.places`). Poses logged up to :data:`POSES_AHEAD`
        later count: live, the poses of a picture came in before the picture itself."""
        at = self._start + t if frame_time is None else frame_time
        if self._ahead is None:  # its own board, so neither replay has to go back
            self._ahead = MarkReplay(self._start, self._ops, self._times)
        return self._ahead.board_at(t + POSES_AHEAD).places(source, frame_time=at)


def build_timeline(case: RecordedCase, *, duration: float | None = None) -> Timeline:
    """The timeline of ``case``. ``duration`` (case seconds) overrides the manifest's, e.g.
    how far the media of an interrupted recording plays; else the manifest's duration, else
    the last event. Malformed events are skipped (logged), never raised.
    """
    start = case_start(case)
    chat: list[ChatLine] = []
    presence: list[Presence] = []
    freezes: list[FreezeInterval] = []
    open_freezes: dict[str, FreezeInterval] = {}
    ticks: list[MarkTick] = []
    ops: list[tuple[float, Op | BoardState]] = []
    authors: dict[str, str] = {}
    pauses: list[PrivacyPause] = []
    paused: dict[str, PrivacyPause] = {}  # participant -> their pause under way
    last_time = 0.0
    for event in case.events:
        t = event.t - start
        data = event.data
        kind = event.kind
        if kind in (EventKind.MARK, EventKind.FREEZE, EventKind.UNFREEZE):
            try:
                op = parse_op(data["op"], strict=False)
            except (KeyError, ProtocolError) as exc:
                logger.warning("%s: skipped a malformed %s event: %s", case.folder, kind, exc)
                continue
            t = max(t, ops[-1][0]) if ops else t  # ops stay in server order
            ops.append((t, op))
            if isinstance(op, Add):
                ticks.append(MarkTick(t, op.shape.source, op.shape.kind))
            elif isinstance(op, Freeze):
                _end_freeze(open_freezes, freezes, op.source, t)
                open_freezes[op.source] = FreezeInterval(op.source, t, None, op.frame_time - start)
            elif isinstance(op, Unfreeze):
                _end_freeze(open_freezes, freezes, op.source, t)
        elif kind is EventKind.BOARD:
            try:
                state = BoardState(
                    tuple(parse_op(o, strict=False) for o in data["ops"]), int(data["seq"])
                )
            except (KeyError, TypeError, ValueError, ProtocolError) as exc:
                logger.warning("%s: skipped a malformed board event: %s", case.folder, exc)
                continue
            t = max(t, ops[-1][0]) if ops else t
            ops.append((t, state))
            for op in state.ops:
                if isinstance(op, Freeze) and op.source not in open_freezes:
                    open_freezes[op.source] = FreezeInterval(
                        op.source, t, None, op.frame_time - start
                    )
        elif kind is EventKind.CHAT:
            chat.append(ChatLine(
                t, _text(data, "sender", "author", "name"), _text(data, "role"),
                _text(data, "text"),
            ))
        elif kind in (EventKind.JOIN, EventKind.LEAVE):
            if kind is EventKind.JOIN and isinstance(data.get("participant"), str):
                authors[data["participant"]] = _text(data, "name")
            presence.append(Presence(
                t, _text(data, "name", "sender", "participant"), _text(data, "role"),
                kind is EventKind.JOIN,
            ))
        elif kind in (EventKind.PRIVACY_PAUSE, EventKind.PRIVACY_RESUME):
            who = _text(data, "participant", "by")
            begun = paused.pop(who, None)
            if begun is not None:
                pauses.append(PrivacyPause(begun.start, t, begun.by))
            if kind is EventKind.PRIVACY_PAUSE:
                paused[who] = PrivacyPause(t, None, _text(data, "by", "name"))
        if kind is not EventKind.SOURCE_START:
            last_time = max(last_time, t)
    pauses.extend(paused.values())
    pauses.sort(key=lambda p: p.start)
    freezes.extend(open_freezes.values())
    freezes.sort(key=lambda f: f.start)

    if duration is None:
        duration = case.manifest.duration
    if duration is None:
        duration = last_time
    problem = None
    try:
        edited = read_chapter_edits(case.folder)
    except RecordingError as exc:
        edited, problem = None, str(exc)
    chapters = edited if edited is not None else recorded_chapters(case.events, start)
    return Timeline(
        start=start,
        duration=max(0.0, duration),
        chapters=chapters,
        chat=sorted(chat, key=lambda c: c.time),
        presence=sorted(presence, key=lambda p: p.time),
        freezes=freezes,
        mark_ticks=ticks,
        ops=ops,
        chapter_problem=problem,
        authors=authors,
        privacy=pauses,
        shares=shared_stretches(case.events, start),
    )


def _end_freeze(
    open_freezes: dict[str, FreezeInterval], done: list[FreezeInterval], source: str, t: float
) -> None:
    held = open_freezes.pop(source, None)
    if held is not None:
        done.append(FreezeInterval(held.source, held.start, t, held.frame_time))


def _text(data: Mapping[str, Any], *names: str) -> str:
    """The first of ``names`` that is a string in ``data`` (logs spell some fields two ways)."""
    for name in names:
        value = data.get(name)
        if isinstance(value, str):
            return value
    return ""
