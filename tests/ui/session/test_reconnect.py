"""A dropped signaling link shows "reconnecting" and the session comes back by itself."""

from __future__ import annotations

import asyncio
import socket

import pytest

from signaling_server.server import ServerConfig, start_server
from surgery_teach.audio import ToneTrack
from surgery_teach.capture import open_source
from surgery_teach.protocol.messages import Role
from surgery_teach.rtc.session import SessionConfig
from tests.timing import seconds
from tests.ui.conftest import until
from ui.session.controller import SessionController
from ui.session.window import SessionWindow

pytestmark = pytest.mark.slow


def test_server_restart_reconnects_both_and_video_resumes(qtbot, run) -> None:  # type: ignore[no-untyped-def]
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"ws://127.0.0.1:{port}"

    async def scenario() -> None:
        server = await start_server(ServerConfig(port=port))
        surgeon = SessionController(
            SessionConfig(server=url, room="re", name="Dr Wang", role=Role.SURGEON),
            [open_source("Laparoscope=synthetic:640x360@30")], voice=ToneTrack(800.0))
        trainee = SessionController(
            SessionConfig(server=url, room="re", name="Trainee", role=Role.TRAINEE), [])
        states: list[str] = []
        trainee.state_changed.connect(states.append)
        try:
            await surgeon.start()
            await trainee.start()
            window = SessionWindow(trainee)
            qtbot.addWidget(window)
            window.show()
            await until(lambda: window.stage.main.frames_painted > 5, seconds(15), "video")

            await server.close()
            await until(lambda: trainee.state == "reconnecting", seconds(10), "reconnecting")
            assert window.banner.isVisible() and "reconnecting" in window.banner.text()
            painted = window.stage.main.frames_painted  # media does not need the server
            await until(lambda: window.stage.main.frames_painted > painted + 10, seconds(10),
                        "video while the server is down")
            server = await start_server(ServerConfig(port=port))
            await until(lambda: trainee.state == "live" and surgeon.state == "live",
                        seconds(20), "both to rejoin")
            # "reconnecting" is followed by "reconnected", in the banner and the chat
            assert window.banner.isVisible() and "Reconnected" in window.banner.text()
            notes = window.chat.log.lines()
            lost = max(i for i, line in enumerate(notes) if "reconnecting" in line)
            assert any("Reconnected to the server" in line for line in notes[lost:])
            await until(lambda: not window.banner.isVisible(), seconds(10),
                        "the banner to go")
            before = window.stage.main.frames_painted
            await until(lambda: window.stage.main.frames_painted > before + 10, seconds(15),
                        "video to resume")
            # the rejoined room has each participant once
            session = trainee.session
            assert session is not None
            assert [p.name for p in session.participants.values()] == ["Dr Wang"]
            assert states[:3] == ["live", "reconnecting", "live"]
            # the same microphone is heard again through the new connection
            surgeon_id = surgeon.session.me.id  # type: ignore[union-attr]
            await until(lambda: surgeon_id in trainee.speaking(), seconds(10), "voice again")
            # and only one reader takes frames from it (two would split the voice); the
            # readers run on the surgeon's media loop, so look there
            async def readers() -> int:
                return len([t for t in asyncio.all_tasks() if not t.done()
                            and "run_track" in t.get_coro().__qualname__  # type: ignore[union-attr]
                            and t.get_coro().cr_frame.f_locals.get("track")  # type: ignore[union-attr]
                            is surgeon.microphone])

            assert await surgeon.media.run(readers()) == 1
        finally:
            await trainee.leave()
            await surgeon.leave()
            await server.close()

    run(scenario())


def test_marks_drawn_while_the_link_is_down_arrive_once_after_the_rejoin(qtbot, run) -> None:  # type: ignore[no-untyped-def]
    from surgery_teach.annotations import Add, Arrow
    from tests.rtc.proxy import StallableProxy

    async def scenario() -> None:
        server = await start_server(ServerConfig(port=0))
        proxy = StallableProxy(server.port)
        await proxy.start()
        mentor = SessionController(
            SessionConfig(server=proxy.url, room="m", name="Prof Li", role=Role.MENTOR), [],
            speak=False)
        trainee = SessionController(
            SessionConfig(server=server.url, room="m", name="Trainee", role=Role.TRAINEE), [])

        def arrow(n: int) -> Add:
            me = mentor.session.me.id  # type: ignore[union-attr]
            return Add(Arrow(id=f"{me}:{n}", author=me, source="Laparoscope", colour="#ffd60a",
                             width=0.005, pinned=True, start=(0.1 * n, 0.1), end=(0.5, 0.5)))

        def starts() -> list[float]:
            shapes = trainee.session.board.shapes("Laparoscope", 0)  # type: ignore[union-attr]
            return sorted(round(s.shape.start[0], 3) for s in shapes)  # type: ignore[attr-defined]

        try:
            await mentor.start()
            await trainee.start()
            mentor.annotate(arrow(1))
            await until(lambda: starts() == [0.1], seconds(10), "the first mark")
            proxy.stall()
            mentor.annotate(arrow(2))  # into a link that no longer delivers
            await until(lambda: mentor.state == "reconnecting", seconds(10), "reconnecting")
            assert mentor.can_draw  # the tools stay usable while reconnecting
            mentor.annotate(arrow(3))
            proxy.flowing.set()
            await until(lambda: mentor.state == "live", seconds(30), "the rejoin")
            await until(lambda: starts() == [0.1, 0.2, 0.3], seconds(10), "the offline marks")
            await until(lambda: mentor._live is not None and mentor._live.waiting == 0,
                        seconds(10), "the server's confirmations")  # the session keeps them
            assert starts() == [0.1, 0.2, 0.3]  # each exactly once
        finally:
            await trainee.leave()
            await mentor.leave()
            await proxy.close()
            await server.close()

    run(scenario())


def test_a_mark_drawn_while_the_server_is_unreachable_shows_at_once_as_pending(
        qtbot, run) -> None:  # type: ignore[no-untyped-def]
    """The mentor's own stroke shows faint at once, with a line saying it waits, and
    becomes an ordinary mark when the server has it (drawn once)."""
    import numpy as np

    from tests.rtc.proxy import StallableProxy
    from tests.ui.session.test_telestration import drag
    from tests.ui.session.test_window import rendered_video

    def yellowish(rgb: np.ndarray) -> int:  # the mentor's mark, faint or not, on grey bars
        r, g, b = (rgb[..., i].astype(int) for i in range(3))
        return int(((r > g - 40) & (g > b + 60) & (r > 120)).sum())

    async def scenario() -> None:
        server = await start_server(ServerConfig(port=0))
        proxy = StallableProxy(server.port)
        await proxy.start()
        surgeon = SessionController(
            SessionConfig(server=server.url, room="p", name="Dr Wang", role=Role.SURGEON),
            [open_source("Laparoscope=synthetic:640x360@15")], speak=False)
        mentor = SessionController(
            SessionConfig(server=proxy.url, room="p", name="Prof Li", role=Role.MENTOR), [],
            speak=False)
        try:
            await surgeon.start()
            await mentor.start()
            window = SessionWindow(mentor)
            qtbot.addWidget(window)
            window.show()
            view = window.stage.main
            await until(lambda: view.frames_painted > 3, seconds(20), "video")
            toolbar = window.drawing_toolbar
            toolbar.colour.setCurrentIndex(toolbar.colour.findData("#ffd60a"))
            toolbar.pinned.setChecked(True)
            toolbar.tool_buttons[next(t for t in toolbar.tool_buttons if t.value == "pen")
                                 ].click()
            before = yellowish(rendered_video(view))
            proxy.stall()
            await until(lambda: mentor.state == "reconnecting", seconds(15), "reconnecting")
            drag(qtbot, view, (0.3, 0.3), (0.7, 0.7))
            pending = window.telestration.pending
            assert len(pending) == 1
            assert toolbar.status.text() == "One of your marks waits for the server (shown faint)"
            await until(lambda: yellowish(rendered_video(view)) > before + 100, seconds(5),
                        "the stroke drawn at once")
            assert surgeon.session.board.shapes("Laparoscope", 1e12) == []  # type: ignore[union-attr]
            proxy.flowing.set()
            await until(lambda: mentor.state == "live", seconds(30), "the rejoin")
            await until(lambda: len(pending) == 0, seconds(15), "the server's copy")
            assert len(surgeon.session.board.shapes("Laparoscope", 1e12)) == 1  # type: ignore[union-attr]
            assert "for the server" not in toolbar.status.text()
        finally:
            await mentor.leave()
            await surgeon.leave()
            await proxy.close()
            await server.close()

    run(scenario())
