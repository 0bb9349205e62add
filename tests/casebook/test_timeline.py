"""The timeline of a case: events on case time, and the marks exactly as the live board
showed them (fades, pins, undo, redo, clear), replayed through the real Board."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest

from surgery_teach.annotations import (
    FADE_AFTER,
    Add,
    Arrow,
    Board,
    Clear,
    ClearScope,
    Freeze,
    Op,
    Pen,
    Redo,
    Remove,
    Undo,
    Unfreeze,
    Update,
    op_to_json,
)
from surgery_teach.casebook import open_recording
from surgery_teach.casebook.timeline import build_timeline, case_start
from surgery_teach.casefile import EventKind
from surgery_teach.casefile.events import Event, event_to_json

START = 1746093720.0
MANIFEST = """{
  "version": 1, "title": "Hernia repair", "date": "2025-05-01", "hospital": "",
  "participants": [],
  "sources": [{"label": "Endoscope", "file": "endoscope.mkv", "width": 640, "height": 360,
               "fps": 30.0, "clock_origin": 1746093720.02},
              {"label": "Room", "file": "room.mkv", "width": 640, "height": 360,
               "fps": 30.0, "clock_origin": 1746093720.03}],
  "audio": null,
  "started_at": "2025-05-01T10:02:00.000000+00:00",
  "ended_at": "2025-05-01T10:03:00.000000+00:00",
  "duration_s": 60.0, "state": "finished", "error": null, "app_version": "0.1.0"
}
"""


def arrow(shape_id: str, at: float, *, author: str = "mentor", source: str = "Endoscope",
          pinned: bool = False) -> Arrow:
    return Arrow(id=shape_id, author=author, source=source, colour="#ff0000", width=0.01,
                 start=(0.1, 0.1), end=(0.5, 0.5), pinned=pinned, created=START + at)


def write_case(folder: Path, timed: list[tuple[float, EventKind, dict[str, Any]]]) -> Path:
    events = [Event(START, EventKind.RECORDING_START, {"folder": "x", "sources": []})]
    events += [Event(START + t, kind, data) for t, kind, data in timed]
    events.append(Event(START + 60, EventKind.RECORDING_STOP))
    (folder / "manifest.json").write_text(MANIFEST)
    (folder / "events.jsonl").write_text("".join(event_to_json(e) + "\n" for e in events))
    return folder


def marks(ops: list[tuple[float, Op]]) -> list[tuple[float, EventKind, dict[str, Any]]]:
    kinds = {Freeze: EventKind.FREEZE, Unfreeze: EventKind.UNFREEZE}
    return [(t, kinds.get(type(op), EventKind.MARK), {"op": op_to_json(op)}) for t, op in ops]


def ids(visible: list[Any]) -> list[str]:
    return [v.shape.id for v in visible]


def test_events_land_on_case_time(tmp_path: Path) -> None:
    case = open_recording(write_case(tmp_path, [
        (2.0, EventKind.JOIN, {"name": "Sam Okafor", "role": "trainee"}),
        (5.0, EventKind.CHAT, {"sender": "Dr Li", "role": "mentor", "text": "clip here"}),
        (6.0, EventKind.CHAT, {"author": "Dr Ana Lima", "text": "ok"}),  # older spelling
        *marks([(10.0, Add(arrow("a1", 10.0), seq=1)),
                (12.0, Freeze(source="Endoscope", frame_time=START + 11.5, author="m", seq=2)),
                (15.0, Unfreeze(source="Endoscope", author="m", seq=3)),
                (20.0, Freeze(source="Room", frame_time=START + 19.0, author="m", seq=4))]),
        (30.0, EventKind.LEAVE, {"name": "Sam Okafor", "role": "trainee"}),
    ]))
    timeline = build_timeline(case)
    assert case_start(case) == START and timeline.start == START
    assert timeline.duration == 60.0
    assert [(c.time, c.sender, c.role, c.text) for c in timeline.chat] == [
        (5.0, "Dr Li", "mentor", "clip here"), (6.0, "Dr Ana Lima", "", "ok")]
    assert [(p.time, p.name, p.joined) for p in timeline.presence] == [
        (2.0, "Sam Okafor", True), (30.0, "Sam Okafor", False)]
    assert [(f.source, f.start, f.end, f.frame_time) for f in timeline.freezes] == [
        ("Endoscope", 12.0, 15.0, 11.5), ("Room", 20.0, None, 19.0)]
    assert [(m.time, m.source, m.kind) for m in timeline.mark_ticks] == [
        (10.0, "Endoscope", "arrow")]
    assert timeline.frozen_at(13.0, "Endoscope") is not None
    assert timeline.frozen_at(15.0, "Endoscope") is None
    assert timeline.frozen_at(59.0, "Room") is not None
    assert [c.text for c in timeline.chat_until(5.5)] == ["clip here"]
    assert timeline.case_time(START + 7) == 7.0 and timeline.clock_time(7.0) == START + 7


def test_marks_fade_stay_pinned_and_keep_to_their_source(tmp_path: Path) -> None:
    timeline = build_timeline(open_recording(write_case(tmp_path, marks([
        (1.0, Add(arrow("live", 1.0), seq=1)),
        (2.0, Add(arrow("pinned", 2.0, pinned=True), seq=2)),
        (3.0, Add(arrow("room", 3.0, source="Room"), seq=3)),
    ]))))
    assert timeline.marks_at(0.99, "Endoscope") == []
    assert ids(timeline.marks_at(1.0, "Endoscope")) == ["live"]
    shown = timeline.marks_at(1.0 + FADE_AFTER + 0.5, "Endoscope")
    assert [(v.shape.id, round(v.opacity, 3)) for v in shown] == [("live", 0.5), ("pinned", 1.0)]
    assert ids(timeline.marks_at(30.0, "Endoscope")) == ["pinned"]
    assert ids(timeline.marks_at(3.5, "Room")) == ["room"]
    assert ids(timeline.marks_at(2.5, "Endoscope")) == ["live", "pinned"]  # backwards again


def test_undo_redo_remove_and_clear_replay_as_they_happened(tmp_path: Path) -> None:
    timeline = build_timeline(open_recording(write_case(tmp_path, marks([
        (1.0, Add(arrow("a", 1.0, pinned=True), seq=1)),
        (2.0, Add(arrow("b", 2.0, pinned=True, author="trainee"), seq=2)),
        (3.0, Undo("mentor", seq=3)),
        (4.0, Redo("mentor", seq=4)),
        (5.0, Remove("b", author="mentor", seq=5)),
        (6.0, Add(arrow("c", 6.0, pinned=True), seq=6)),
        (7.0, Clear(ClearScope.ALL, "Endoscope", author="mentor", seq=7)),
        (7.5, Add(arrow("c", 7.5, pinned=True), seq=7)),  # a replayed seq: ignored, as live
    ]))))
    # (a redone mark comes back on top, as on every live board)
    expected = {1.5: ["a"], 2.5: ["a", "b"], 3.5: ["b"], 4.5: ["b", "a"], 5.5: ["a"],
                6.5: ["a", "c"], 7.2: [], 8.0: []}
    for t, shown in expected.items():
        assert ids(timeline.marks_at(t, "Endoscope")) == shown, t
    for t, shown in reversed(expected.items()):
        assert ids(timeline.marks_at(t, "Endoscope")) == shown, t


def test_a_logged_board_replaces_the_marks_as_the_live_undo_snapshot_did(
        tmp_path: Path) -> None:
    """The server answers an undo with a snapshot, not an op: the recorder logs the whole
    board, and replay swaps it in, so the undone mark vanishes when it did live."""
    before = Board()
    before.apply(Add(arrow("old", 0.0, pinned=True), seq=1))  # drawn before recording
    after_undo = [op_to_json(op) for op in before.snapshot()]
    timeline = build_timeline(open_recording(write_case(tmp_path, [
        (0.0, EventKind.JOIN, {"participant": "p1", "name": "Dr Li", "role": "mentor",
                               "present": True}),
        (0.0, EventKind.BOARD, {"ops": after_undo, "seq": 1}),
        *marks([(2.0, Add(arrow("new", 2.0, pinned=True, author="p1"), seq=2))]),
        (3.0, EventKind.BOARD, {"ops": after_undo, "seq": 3}),  # p1 undid "new"
        (4.0, EventKind.BOARD, {"ops": "not a list", "seq": 4}),  # malformed: skipped
    ])))
    expected = {0.5: ["old"], 2.5: ["old", "new"], 3.5: ["old"], 5.0: ["old"]}
    for t, shown in [*expected.items(), *reversed(expected.items())]:
        assert ids(timeline.marks_at(t, "Endoscope")) == shown, t
    assert timeline.authors == {"p1": "Dr Li"}


def test_a_long_session_replays_the_same_as_a_fresh_board_in_any_order(tmp_path: Path) -> None:
    """Hundreds of ops (strokes growing by updates): seeking anywhere, forwards or back,
    gives exactly what a board fed the ops up to then shows."""
    rng = random.Random(5)
    ops: list[tuple[float, Op]] = []
    seq = 0
    for n in range(150):
        t = 0.3 * n
        seq += 1
        points = [(rng.random(), rng.random())]
        stroke = Pen(id=f"s{n}", author="mentor", source="Endoscope", colour="#00ff00",
                     width=0.01, points=tuple(points), pinned=n % 7 == 0, created=START + t)
        ops.append((t, Add(stroke, seq=seq)))
        for k in range(3):
            seq += 1
            points.append((rng.random(), rng.random()))
            ops.append((t + 0.05 * (k + 1), Update(
                Pen(id=f"s{n}", author="mentor", source="Endoscope", colour="#00ff00",
                    width=0.01, points=tuple(points), pinned=n % 7 == 0, created=START + t),
                seq=seq)))
        if n % 10 == 9:
            seq += 1
            ops.append((t + 0.2, Undo("mentor", seq=seq)))
    timeline = build_timeline(open_recording(write_case(tmp_path, marks(ops))))

    for t in [rng.uniform(0, 46) for _ in range(25)]:
        board = Board()
        for when, op in ops:
            if when <= t:
                board.apply(op)
        assert timeline.marks_at(t, "Endoscope") == board.shapes("Endoscope", START + t), t


def test_a_malformed_mark_is_skipped_not_raised(tmp_path: Path) -> None:
    timeline = build_timeline(open_recording(write_case(tmp_path, [
        (1.0, EventKind.MARK, {"op": {"v": 1, "op": "add", "seq": 1, "shape": {"kind": "blob"}}}),
        (2.0, EventKind.MARK, {"no-op": True}),
        *marks([(3.0, Add(arrow("ok", 3.0), seq=2))]),
    ])))
    assert ids(timeline.marks_at(3.5, "Endoscope")) == ["ok"]


@pytest.mark.parametrize("state", ["recording", "finished"])
def test_duration_of_an_unfinished_case_comes_from_the_caller_or_the_log(
    tmp_path: Path, state: str
) -> None:
    write_case(tmp_path, [(12.0, EventKind.CHAT, {"sender": "a", "text": "b"})])
    if state == "recording":
        text = MANIFEST.replace('"finished"', '"recording"').replace(
            '"2025-05-01T10:03:00.000000+00:00"', "null").replace('60.0, "state"', 'null, "state"')
        (tmp_path / "manifest.json").write_text(text)
        lines = (tmp_path / "events.jsonl").read_text().splitlines()[:-1]  # no stop event
        (tmp_path / "events.jsonl").write_text("\n".join(lines) + "\n")
    case = open_recording(tmp_path)
    assert build_timeline(case).duration == (12.0 if state == "recording" else 60.0)
    assert build_timeline(case, duration=47.5).duration == 47.5


def test_privacy_pauses_become_spans_per_participant(tmp_path: Path) -> None:
    case = open_recording(write_case(tmp_path, [
        (4.0, EventKind.PRIVACY_PAUSE, {"by": "Dr Wang", "participant": "p-1"}),
        (9.0, EventKind.PRIVACY_PAUSE, {"by": "Dr Li", "participant": "p-2"}),
        (11.0, EventKind.PRIVACY_RESUME, {"by": "Dr Wang", "participant": "p-1"}),
        (50.0, EventKind.PRIVACY_RESUME, {"by": "Dr Li", "participant": "p-2"}),
        (55.0, EventKind.PRIVACY_PAUSE, {"by": "Dr Wang", "participant": "p-1"}),
    ]))
    timeline = build_timeline(case)
    assert [(p.start, p.end, p.by) for p in timeline.privacy] == [
        (4.0, 11.0, "Dr Wang"), (9.0, 50.0, "Dr Li"), (55.0, None, "Dr Wang")]
