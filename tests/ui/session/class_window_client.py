"""A mentor's desktop window in the network lab, for the window test of class mode.

Run as ``python -m tests.ui.session.class_window_client`` (Qt offscreen), with the room
token in ``SURGERY_TEACH_TOKEN``. The window (1366x768) joins, watches the surgeon's
laparoscope large and the room camera small, and pins an arrow on the laparoscope. Then,
with its own buttons, it moves the room onto the media server ("Class mode"), freezes the
laparoscope there, and gives class mode up. While the room moves it looks at itself every
10 ms: which live tiles and link health lines there are (a source twice is the fault
looked for) and which source is large. It saves screenshots while a source comes on two
paths and once each move is done, and writes a JSON report (``--report``): what it saw,
and at each step what it must then show. A step that does not come in time is the
report's ``error``; the process then exits 1.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import qasync
from PyQt6.QtCore import QPoint, Qt
from PyQt6.QtTest import QTest
from PyQt6.QtWidgets import QApplication

from surgery_teach.protocol.messages import Role
from surgery_teach.rtc.session import SessionConfig
from tests.ui.session.test_telestration import BLUE, blue
from tests.ui.session.test_window import rendered_video
from ui.common.video_view import VideoView
from ui.session.controller import SessionController
from ui.session.window import SessionWindow
from ui.theme import apply_theme

LAP = "Laparoscope"
ROOM = "手术室全景摄像机（三号手术间天花板东北角广角镜头）"  # as the surgeon names it


class Failed(Exception):
    """A step did not come in time."""


class Looking:
    """The window every 10 ms: live tiles and link lines, the large source, and whether
    a source came on two paths at once."""

    def __init__(self, window: SessionWindow, controller: SessionController) -> None:
        self.window = window
        self.controller = controller
        self.samples = 0
        self.twice: list[list[str]] = []
        self.mains: set[str] = set()
        self.both_paths = False  # a source came on two paths at once since the last move
        self._task = asyncio.ensure_future(self._look())

    def tiles(self) -> list[str]:
        return [s.name for s in self.window.stage.sources if not s.key.startswith("still:")]

    def paths(self, label: str) -> int:
        return sum(1 for r in self.controller.receivers if r.label == label)

    async def _look(self) -> None:
        while True:
            self.samples += 1
            tiles = self.tiles()
            rows = [r.label for r in self.window.links.reports]  # link health, a line each
            if (len(tiles) != len(set(tiles)) or len(rows) != len(set(rows))) \
                    and len(self.twice) < 20:
                self.twice.append(tiles + rows)
            self.mains.add(self.window.stage.main.source_name)
            self.both_paths |= self.paths(LAP) > 1
            await asyncio.sleep(0.01)

    def stop(self) -> None:
        self._task.cancel()


async def until(predicate: Callable[[], object], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise Failed(f"timed out after {timeout:g} s waiting for {what}")
        await asyncio.sleep(0.02)


def drag(view: VideoView, start: tuple[float, float], end: tuple[float, float]) -> None:
    def at(x: float, y: float) -> QPoint:
        rect = view.video_rect()
        return QPoint(round(rect.left() + x * rect.width()),
                      round(rect.top() + y * rect.height()))

    QTest.mousePress(view, Qt.MouseButton.LeftButton, pos=at(*start))
    for i in range(1, 11):
        QTest.mouseMove(view, at(start[0] + (end[0] - start[0]) * i / 10,
                                 start[1] + (end[1] - start[1]) * i / 10))
    QTest.mouseRelease(view, Qt.MouseButton.LeftButton, pos=at(*end))


async def watch(args: argparse.Namespace, report: dict[str, Any]) -> None:
    controller = SessionController(SessionConfig(
        server=args.server, room=args.room, name=args.name, role=Role.MENTOR,
        token=os.environ.get("SURGERY_TEACH_TOKEN", "")), [], speak=False)
    shots: Path = args.shots
    shots.mkdir(parents=True, exist_ok=True)
    looking = None
    try:
        await controller.start()
        window = SessionWindow(controller)
        window.resize(1366, 768)
        window.show()
        stage, main = window.stage, window.stage.main
        live = controller._live
        assert live is not None
        report["me"] = live.me.id
        wait = args.wait

        def shot(name: str) -> None:
            window.grab().save(str(shots / f"{name}.png"))
            report["shots"].append(name)

        def live_tile_slot(name: str) -> object:
            return next(s.slot for s in stage.sources
                        if s.name == name and not s.key.startswith("still:"))

        async def pictures(view: VideoView, what: str) -> None:
            """Wait for pictures painted in ``view`` from now on."""
            painted = view.frames_painted
            await until(lambda: view.frames_painted > painted + 5, wait, what)

        def only_path(label: str) -> object:
            [receiver] = [r for r in controller.receivers if r.label == label]
            return receiver.slot

        await until(lambda: len(stage.sources) == 2 and main.frames_painted > 5
                    and stage.thumbnails[0].frames_painted > 5, wait,
                    "both sources in the window")
        report["large_at_first"] = main.source_name
        window.drawing_toolbar.pinned.setChecked(True)
        window.drawing_toolbar.colour.setCurrentIndex(
            window.drawing_toolbar.colour.findData(BLUE))
        drag(main, (0.25, 0.5), (0.75, 0.5))
        await until(lambda: blue(rendered_video(main)).sum() > 200, wait, "the arrow")
        looking = Looking(window, controller)

        # Onto the media server, with the window's own button.
        window.class_button.click()
        await until(lambda: looking.both_paths, wait, "the laparoscope on both paths")
        shot("1-moving-onto-janus")
        await until(lambda: window.class_button.isChecked() and not live.peers
                    and looking.paths(LAP) == 1 and looking.paths(ROOM) == 1, wait,
                    "the peer-to-peer path closed")
        await pictures(main, "pictures through Janus, large")
        step: dict[str, Any] = report["on_janus"]
        step["both_paths_seen"] = looking.both_paths
        step["large"] = main.source_name
        step["large_on_the_new_path"] = main.slot is only_path(LAP)
        step["thumbnail_on_the_new_path"] = live_tile_slot(ROOM) is only_path(ROOM)
        step["tiles"] = looking.tiles()
        step["arrow_pixels"] = int(blue(rendered_video(main)).sum())
        await until(lambda: any(r.label == LAP and r.kbit_per_s > 100
                                for r in window.links.reports), wait,
                    "the laparoscope's bitrate through Janus in link health")
        step["kbit_per_s"] = max(r.kbit_per_s for r in window.links.reports if r.label == LAP)
        shot("2-on-janus")

        # Frozen there, then back to peer to peer.
        window.drawing_toolbar.freeze.click()
        await until(lambda: "frozen" in main.label, wait, "the still, large")
        places = [s.key for s in stage.sources]
        looking.both_paths = False
        window.class_button.click()
        await until(lambda: looking.both_paths, wait, "the laparoscope on both paths again")
        shot("3-moving-back")
        await until(lambda: not window.class_button.isChecked() and not live._class_receivers
                    and looking.paths(LAP) == 1 and looking.paths(ROOM) == 1, wait,
                    "the path through Janus closed")
        step = report["back"]
        step["both_paths_seen"] = looking.both_paths
        step["large"] = main.label
        step["same_places"] = [s.key for s in stage.sources] == places
        step["thumbnails_on_the_new_path"] = (live_tile_slot(LAP) is only_path(LAP)
                                              and live_tile_slot(ROOM) is only_path(ROOM))
        step["tiles"] = looking.tiles()
        shot("4-back-peer-to-peer")
        window.drawing_toolbar.freeze.click()
        await until(lambda: "frozen" not in main.label, wait, "live again")
        await pictures(main, "the live laparoscope, large")
        step["large_after_unfreezing"] = main.source_name
        step["arrow_pixels"] = int(blue(rendered_video(main)).sum())
        shot("5-live-again")
    finally:
        if looking is not None:
            looking.stop()
            report.update(samples=looking.samples, twice=looking.twice,
                          mains=sorted(looking.mains))
        await controller.leave()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--server", required=True)
    parser.add_argument("--room", required=True)
    parser.add_argument("--name", default="Prof Li")
    parser.add_argument("--report", type=Path, required=True)
    parser.add_argument("--shots", type=Path, required=True)
    parser.add_argument("--wait", type=float, default=30.0, help="seconds for each step")
    args = parser.parse_args()
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    app = QApplication.instance() or QApplication(sys.argv[:1])
    apply_theme(app)  # type: ignore[arg-type]
    app.setQuitOnLastWindowClosed(False)
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    report: dict[str, Any] = {"shots": [], "on_janus": {}, "back": {}, "error": ""}
    try:
        with loop, contextlib.suppress(Failed):
            try:
                loop.run_until_complete(watch(args, report))
            except Failed as exc:
                report["error"] = str(exc)
                raise
    finally:
        args.report.write_text(json.dumps(report, indent=1), encoding="utf-8")
    print("report written", flush=True)
    return 1 if report["error"] else 0


if __name__ == "__main__":
    sys.exit(main())
