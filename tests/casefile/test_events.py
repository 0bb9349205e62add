"""The event log: one parse and one serialize, crash-tolerant reading, batched fsync."""

from __future__ import annotations

import errno
import os
import threading
import time
from pathlib import Path

import pytest

from surgery_teach.casefile.events import (
    Event,
    EventKind,
    EventLog,
    event_to_json,
    parse_event,
    read_events,
)
from surgery_teach.errors import RecordingError
from tests.timing import seconds

LOG = (
    '{"t":1714550523.418231,"kind":"recording-start","folder":"2025-05-01_1002_chole",'
    '"sources":["Endoscope"]}\n'
    '{"t":1714550524.5,"kind":"chat","author":"Dr Ana Lima","text":"clip here ✂"}\n'
    '{"t":1714550530,"kind":"chapter","title":"Calot\'s triangle"}\n'
)


def test_a_log_reads_back_from_its_literal_text(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    path.write_text(LOG, encoding="utf-8")
    contents = read_events(path)
    assert not contents.truncated
    assert [e.kind for e in contents.events] == [
        EventKind.RECORDING_START, EventKind.CHAT, EventKind.CHAPTER]
    chat = contents.events[1]
    assert (chat.t, dict(chat.data)) == (1714550524.5, {"author": "Dr Ana Lima",
                                                        "text": "clip here ✂"})
    assert "\n".join(event_to_json(e) for e in contents.events) + "\n" == LOG.replace(
        '"t":1714550530,', '"t":1714550530.0,')


@pytest.mark.parametrize("tail", [
    '{"t":1714550531.2,"kind":"ch',  # killed mid-line
    "\0\0\0\0\0\0",  # power loss: the size grew, the data never arrived
    '{"t":1714550531.2,"kind":"chat","text":"no newline yet"}',  # complete but unterminated
])
def test_a_half_written_last_line_is_dropped(tmp_path: Path, tail: str) -> None:
    path = tmp_path / "events.jsonl"
    path.write_text(LOG + tail, encoding="utf-8")
    contents = read_events(path)
    assert contents.truncated
    assert len(contents.events) == 3


def test_damage_in_the_middle_is_an_error_naming_the_line(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    lines = LOG.splitlines(keepends=True)
    path.write_text(lines[0] + '{"t":1,"kind":\n' + lines[1], encoding="utf-8")
    with pytest.raises(RecordingError, match=r"events.jsonl, line 2: not JSON"):
        read_events(path)


@pytest.mark.parametrize(("line", "message"), [
    ("[1, 2]", "must be a JSON object"),
    ('{"kind":"chat"}', "has no 't'"),
    ('{"t":1}', "has no 'kind'"),
    ('{"t":"noon","kind":"chat"}', "finite number"),
    ('{"t":true,"kind":"chat"}', "finite number"),
    ('{"t":1,"kind":"surgery-started"}', "unknown event kind 'surgery-started'"),
    ('{"t":1,"kind":7}', "'kind' must be a string"),
    ('{"t":1e999,"kind":"chat"}', "finite number"),
])
def test_malformed_events_are_rejected_clearly(line: str, message: str) -> None:
    with pytest.raises(RecordingError, match=message):
        parse_event(line)


def test_events_must_be_plain_json() -> None:
    with pytest.raises(RecordingError, match="not plain JSON"):
        event_to_json(Event(1.0, EventKind.CHAT, {"text": object()}))
    with pytest.raises(RecordingError, match="may not use the names"):
        Event(1.0, EventKind.CHAT, {"kind": "x"})


def wait_for(predicate, timeout: float) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.002)
    return True


@pytest.fixture
def fsyncs(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Every fsync the code under test makes (the real one still runs)."""
    calls: list[int] = []
    real = os.fsync

    def counting(fd: int) -> None:
        calls.append(fd)
        real(fd)

    monkeypatch.setattr(os, "fsync", counting)
    return calls


def test_events_reach_the_disk_in_batches(tmp_path: Path, fsyncs: list[int]) -> None:
    path = tmp_path / "events.jsonl"
    log = EventLog(path, sync_interval=seconds(0.1), clock=lambda: 100.0)
    log.open()
    try:
        for n in range(200):
            log.log("chat", text=f"message {n}")
        assert log.flush(timeout=seconds(5))
        assert 1 <= len(fsyncs) < 20  # batched, not one fsync per event
    finally:
        log.close()
    events = read_events(path).events
    assert len(events) == 200
    assert all(e.t == 100.0 for e in events)


def test_each_line_is_written_at_once_and_a_chapter_is_synced_at_once(
    tmp_path: Path, fsyncs: list[int]
) -> None:
    """A killed process loses no logged event; a chapter does not wait for the batch."""
    path = tmp_path / "events.jsonl"
    log = EventLog(path, sync_interval=3600)
    log.open()
    try:
        log.log("chat", text="hello")
        assert wait_for(lambda: path.stat().st_size > 0, seconds(5))
        assert fsyncs == []
        log.log(EventKind.CHAPTER, title="Dissection")
        assert wait_for(lambda: len(fsyncs) == 1, seconds(5))
        assert [e.kind for e in read_events(path).events] == [EventKind.CHAT, EventKind.CHAPTER]
    finally:
        log.close()


def test_log_never_waits_for_the_disk(tmp_path: Path) -> None:
    """A stuck disk write leaves log() instant; the events follow when the disk is back."""
    release = threading.Event()

    class StuckLog(EventLog):
        def _write(self, data: bytes) -> None:
            release.wait(seconds(10))
            super()._write(data)

    log = StuckLog(tmp_path / "events.jsonl")
    log.open()
    try:
        for n in range(50):
            log.log("chat", text=str(n))  # would hang here if log() wrote itself
        assert not log.flush(timeout=0.05)
        release.set()
        assert log.flush(timeout=seconds(5))
    finally:
        log.close()
    assert len(read_events(tmp_path / "events.jsonl").events) == 50


def test_a_full_disk_stops_the_log_and_is_reported_once(tmp_path: Path) -> None:
    errors: list[OSError] = []

    class FullLog(EventLog):
        def _write(self, data: bytes) -> None:
            raise OSError(errno.ENOSPC, "No space left on device")

    log = FullLog(tmp_path / "events.jsonl", on_error=errors.append)
    log.open()
    log.log("chat", text="lost")
    assert not log.flush(timeout=seconds(5))
    log.log("chat", text="dropped without raising")
    log.close()
    assert [e.errno for e in errors] == [errno.ENOSPC]
    assert log.failed is errors[0]
