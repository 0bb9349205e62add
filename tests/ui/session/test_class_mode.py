"""Class mode in the window. The mentor's "Class mode" button: on a server without a
media server the request is refused and said in the window, and the button does not claim
a class mode that is not there. The move onto the media server and back: each source
shows once, in the same place, with its marks and its freeze. (The move onto a real Janus
is tests/rtc/test_class_handover.py, and in a window test_class_move_janus.py.)"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from signaling_server.server import ServerConfig, start_server
from surgery_teach.capture import SyntheticSource
from surgery_teach.protocol.messages import MediaRoute, Role
from surgery_teach.rtc.session import SessionConfig
from tests.rtc.class_stand_in import BACK_TO_PEERS, INTO_CLASS, route, use_stand_in
from tests.timing import seconds
from tests.ui.conftest import until
from tests.ui.session.test_telestration import BLUE, blue, controller, drag
from tests.ui.session.test_window import rendered_video
from ui.session.controller import SessionController
from ui.session.stage import StageSource
from ui.session.window import SessionWindow

pytestmark = pytest.mark.slow


def test_class_mode_refused_is_told_and_the_button_stays_off(qtbot, run) -> None:  # type: ignore[no-untyped-def]
    async def scenario() -> None:
        server = await start_server(ServerConfig(port=0))
        mentor = SessionController(
            SessionConfig(server=server.url, room="class", name="Dr Li", role=Role.MENTOR),
            [], speak=False)
        trainee = SessionController(
            SessionConfig(server=server.url, room="class", name="Osh", role=Role.TRAINEE),
            [], speak=False)
        try:
            await mentor.start()
            await trainee.start()
            window, watching = SessionWindow(mentor), SessionWindow(trainee)
            for shown in (window, watching):
                qtbot.addWidget(shown)
                shown.show()
            assert window.overflow.offers(window.class_button)  # in the row or its menu
            assert not watching.overflow.offers(watching.class_button)
            window.class_button.click()
            await until(lambda: any("media server" in line for line in window.chat.log.lines()),
                        seconds(10), "the refusal in the window")
            said = "This server has no media server for classes, so the video stays peer to " \
                   "peer. Ask the server's operator to set one up."
            assert any(said in line for line in window.chat.log.lines())  # not the server's
            assert not window.class_button.isChecked()
        finally:
            await trainee.leave()
            await mentor.leave()
            await server.close()

    run(scenario())


# -- the move onto the media server and back, as the mentor's window shows it -------------

LAP, ROOM = "Laparoscope", "Room camera"


async def _stand_in(c: SessionController, publisher: str,
                   sources: list[SyntheticSource]) -> None:
    """``c``'s session reaches its media server as the stand-in (on its media thread)."""
    async def install() -> None:
        assert c._live is not None
        use_stand_in(c._live, publisher, sources)

    await c.media.run(install())


async def _route(controllers: list[SessionController], message: MediaRoute) -> None:
    """The server's ``media-route`` reaches each participant's session (on its thread)."""
    for c in controllers:
        assert c._live is not None
        await c.media.run(route([c._live], message))


class Watch:
    """What the window shows, looked at every 10 ms while the room moves: when a source
    had two live tiles (or two lines in the link health panel), and every source the main
    view showed."""

    def __init__(self, window: SessionWindow) -> None:
        self.window = window
        self.twice: list[list[str]] = []  # the tiles and lines whenever one showed twice
        self.mains: set[str] = set()
        self._task = asyncio.ensure_future(self._look())

    def tiles(self) -> list[str]:
        """The sources with a live tile (a frozen picture is a tile of its own)."""
        return [s.name for s in self.window.stage.sources if not s.key.startswith("still:")]

    def live_tile(self, name: str) -> StageSource:
        return next(s for s in self.window.stage.sources
                    if s.name == name and not s.key.startswith("still:"))

    async def _look(self) -> None:
        while True:
            tiles = self.tiles()
            rows = [r.label for r in self.window.links.reports]  # link health, a line each
            if len(tiles) != len(set(tiles)) or len(rows) != len(set(rows)):
                self.twice.append(tiles + rows)
            self.mains.add(self.window.stage.main.source_name)
            await asyncio.sleep(0.01)

    def stop(self) -> None:
        self._task.cancel()


def _receivers_of(c: SessionController, label: str) -> int:
    return sum(1 for r in c.receivers if r.label == label)


def test_the_window_shows_each_source_once_while_the_room_moves_and_back(
        qtbot, run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """The mentor watches the laparoscope large (a pinned arrow on it) and the room camera
    small; the room moves onto the media server and back, each source on two paths for a
    moment. The window never shows a source twice, the laparoscope stays large with its
    arrow, the new path's pictures take over the same tile, and a picture frozen on the
    media server stays frozen and large as the room goes back."""
    async def scenario() -> None:
        server = await start_server(ServerConfig(port=0))
        surgeon = controller(server.url, "Dr Wang", Role.SURGEON,
                             [f"{LAP}=synthetic:640x360@15", f"{ROOM}=synthetic:640x360@15"])
        mentor = controller(server.url, "Dr Li", Role.MENTOR)
        layers = [SyntheticSource(320, 180, 15, label=label) for label in (LAP, ROOM)]
        watch = None
        try:
            for c in (surgeon, mentor):
                await c.start()
            window = SessionWindow(mentor)
            qtbot.addWidget(window)
            window.resize(1366, 768)
            window.show()
            stage, main = window.stage, window.stage.main
            await until(lambda: len(stage.sources) == 2 and main.frames_painted > 3
                        and stage.thumbnails[0].frames_painted > 3, seconds(30),
                        "both sources in the mentor's window")
            assert main.source_name == LAP
            window.drawing_toolbar.pinned.setChecked(True)
            window.drawing_toolbar.colour.setCurrentIndex(
                window.drawing_toolbar.colour.findData(BLUE))
            drag(qtbot, main, (0.25, 0.5), (0.75, 0.5))
            await until(lambda: blue(rendered_video(main)).sum() > 200, seconds(10),
                        "the mentor's arrow on the laparoscope")
            surgeon_id = surgeon.session.me.id  # type: ignore[union-attr]
            for layer in layers:
                layer.start()
            await _stand_in(surgeon, surgeon_id, [])
            await _stand_in(mentor, surgeon_id, layers)

            # Onto the media server: both paths for a moment, then only the new one.
            watch = Watch(window)
            await _route([mentor, surgeon], INTO_CLASS)
            await until(lambda: _receivers_of(mentor, LAP) == 2, seconds(10),
                        "the laparoscope on both paths")
            window.grab().save(str(tmp_path / "1-moving-onto-the-media-server.png"))
            await until(lambda: _receivers_of(mentor, LAP) == 1
                        and _receivers_of(mentor, ROOM) == 1, seconds(15),
                        "the peer-to-peer path closed")
            await until(lambda: (frame := main.current_frame()) is not None
                        and frame.image.width == 320 and main.frames_painted > 3,
                        seconds(10), "the media server's pictures in the same tile")
            assert window.class_button.isChecked()
            assert watch.twice == [] and watch.mains == {LAP}, (watch.twice, watch.mains)
            assert [s.name for s in stage.sources] == [LAP, ROOM]
            assert len(stage.thumbnails) == 1 and stage.thumbnails[0].source_name == ROOM
            assert blue(rendered_video(main)).sum() > 200  # the arrow stayed on it
            window.grab().save(str(tmp_path / "2-on-the-media-server.png"))

            # Frozen on the media server (the still made from what arrived there) ...
            window.drawing_toolbar.freeze.click()
            await until(lambda: "frozen" in main.label, seconds(10), "the still, large")
            frozen_at = mentor.session.board.frozen(LAP)  # type: ignore[union-attr]
            places = [s.key for s in stage.sources]

            # ... and back to peer to peer: the still stays, the live tiles move once.
            await _route([mentor, surgeon], BACK_TO_PEERS)
            await until(lambda: _receivers_of(mentor, LAP) == 2, seconds(15),
                        "the laparoscope on both paths again")
            window.grab().save(str(tmp_path / "3-moving-back.png"))
            await until(lambda: _receivers_of(mentor, LAP) == 1
                        and _receivers_of(mentor, ROOM) == 1, seconds(15),
                        "the media server's path closed")
            live = next(t for t in stage.thumbnails if t.source_name == LAP
                        and "frozen" not in t.label)
            await until(lambda: (frame := live.current_frame()) is not None
                        and frame.image.width == 640, seconds(10),
                        "peer-to-peer pictures in the laparoscope's tile")
            assert not window.class_button.isChecked()
            assert watch.twice == [] and watch.mains == {LAP}, (watch.twice, watch.mains)
            assert "frozen" in main.label and mentor.session.board.frozen(LAP) == frozen_at  # type: ignore[union-attr]
            # the surgeon's own still of the freeze came on the new connection and took
            # the place of the one made from the media server's pictures: all in place
            await until(lambda: (frame := main.current_frame()) is not None
                        and frame.image.width == 640, seconds(10), "the surgeon's still")
            assert "frozen" in main.label and [s.key for s in stage.sources] == places
            window.grab().save(str(tmp_path / "4-back-peer-to-peer.png"))
            window.drawing_toolbar.freeze.click()
            await until(lambda: "frozen" not in main.label, seconds(10), "live again")
            assert stage.main_key() == watch.live_tile(LAP).key  # its live tile
            await until(lambda: (frame := main.current_frame()) is not None
                        and frame.image.width == 640, seconds(5), "the live picture, large")
            await until(lambda: blue(rendered_video(main)).sum() > 200, seconds(5),
                        "the arrow on the live laparoscope")
            window.grab().save(str(tmp_path / "5-live-again.png"))
        finally:
            if watch is not None:
                watch.stop()
            for c in (mentor, surgeon):
                await c.leave()
            for layer in layers:
                layer.stop()
            await server.close()

    run(scenario())
