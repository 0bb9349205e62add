"""Shared stretches read from literal event lines: which picture shows when, and what a
malformed or incomplete log gives."""

from __future__ import annotations

import json

import pytest

from surgery_teach.casebook.shared_pictures import shared_stretches, shown_at
from surgery_teach.casefile.events import parse_event

A, B = "a" * 32, "b" * 32
SHA = "0" * 64


def start(t: float, share: str, *, file: str | None = None, width: int = 640,
          who: str = "p-mentor", name: str = "Dr Li") -> str:
    return json.dumps({
        "t": t, "kind": "share-start", "share": share,
        "file": file if file is not None else f"shared-{share}.png", "sha256": SHA,
        "bytes": 10, "participant": who, "name": name, "role": "mentor",
        "description": {"kind": "image", "format": "png", "width": width, "height": 480,
                        "index": 0, "count": 1, "title": "ECG"}})


def stop(t: float, share: str) -> str:
    return json.dumps({"t": t, "kind": "share-stop", "share": share,
                       "participant": "p-mentor"})


def stretches(*lines: str):  # type: ignore[no-untyped-def]
    return shared_stretches([parse_event(line) for line in lines], 100.0)


def test_a_picture_shows_from_its_start_to_its_stop_in_case_time() -> None:
    (stretch,) = stretches(start(101.5, A), stop(104.0, A))
    assert (stretch.start, stretch.end, stretch.by, stretch.title) == (1.5, 4.0, "Dr Li", "ECG")
    assert (stretch.width, stretch.height, stretch.source) == (640, 480, "share:" + A)
    assert [shown_at((stretch,), t) for t in (1.4, 1.5, 3.9, 4.0)] == [
        None, stretch, stretch, None]


def test_the_newest_picture_shows_and_the_older_one_again_when_it_stops() -> None:
    """Two sharers at once: the room looks at the newest, as the live window does."""
    older, newer = stretches(start(101, A), start(102, B, who="p-surgeon"), stop(103, B))
    assert shown_at((older, newer), 1.5) == older
    assert shown_at((older, newer), 2.5) == newer
    assert shown_at((older, newer), 3.5) == older
    assert older.end is None  # never stopped: to the end of the case


@pytest.mark.parametrize("line", [
    start(101, A, file="../secret.png"),  # a file outside the case folder
    start(101, A, file=f"shared-{B}.png"),  # another picture's file
    start(101, A, width=0),
    start(101, A, width=9000),  # larger than any share may be
    start(101, A).replace(f'"sha256": "{SHA}"', '"sha256": "xyz"'),
    start(101, A).replace(f'"share": "{A}"', '"share": "A"'),
    start(101, A).replace('"description": {', '"description": [{').replace("}}", "}]}"),
])
def test_a_malformed_start_is_skipped(line: str) -> None:
    assert stretches(line, stop(102, A)) == ()


def test_a_stop_without_a_start_or_a_start_logged_twice_changes_nothing() -> None:
    (stretch,) = stretches(stop(100.5, B), start(101, A), start(101, A), stop(102, A))
    assert (stretch.start, stretch.end) == (1.0, 2.0)
