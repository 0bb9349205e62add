"""A class across a border: a second Janus receives the room once and serves its viewers.

In the network lab (root, ``janus``; skipped with the reason elsewhere):
:func:`bench.janus_cascade.demo` makes a room on Janus A with the surgeon's client
publishing, adds the surgeon as a remote publisher on Janus B (``add_remote_publisher``),
has A forward it there with SRTP (``publish_remotely``), and a viewer that talks only to
Janus B watches. docs/media-server.md §1 describes these steps.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.janus_cascade import demo
from tests.janus_lab import janus_machine  # noqa: F401  (autouse: skips without a lab)
from tests.timing import seconds

pytestmark = pytest.mark.slow
WATCH_SECONDS = 10.0


def test_a_viewer_abroad_watches_the_surgeon_through_a_second_janus(tmp_path: Path) -> None:
    result = demo(tmp_path, seconds(WATCH_SECONDS))
    assert "viewer_problem" not in result, result.get("viewer_problem")
    assert result["forward"]["videoroom"] == "success"
    [decoded] = result["viewer_through_b"]
    stats, [layer] = decoded["stats"], decoded["layers"]
    print(f"\nthrough Janus A and B: {stats['frames_decoded']} pictures, {stats['fps']} fps, "
          f"stamp->decoded p50 {stats['latency_ms']['p50']} ms")
    # The layers' descriptions crossed the border intact: the viewer read the ladder.
    assert (layer["publisher"], layer["source"], layer["top"]) == ("surgeon", "Laparoscope",
                                                                   "360p")
    assert stats["resolution"] in ([640, 360], [320, 180])
    assert stats["frames_decoded"] >= 10 * WATCH_SECONDS  # pictures keep coming (30 fps sent)
    assert stats["unreadable_stamps"] == 0 and stats["out_of_order"] == 0
