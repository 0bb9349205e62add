"""The session on its own media thread: hand-offs to and from the GUI thread, and shutdown.

Real server, real peers, real Qt objects; the GUI thread is the test's main thread.
"""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from signaling_server.server import ServerConfig, start_server
from surgery_teach.protocol.messages import Role
from surgery_teach.rtc.session import SessionConfig
from surgery_teach.rtc.session_view import SessionView
from tests.timing import seconds
from tests.ui.conftest import until
from ui.common.media_thread import GuiCalls
from ui.session.controller import SessionController


def test_calls_handed_over_from_another_thread_run_on_the_gui_thread_in_order(
        qtbot, run) -> None:  # type: ignore[no-untyped-def]
    gui = GuiCalls()
    seen: list[tuple[int, int]] = []

    def worker() -> None:
        for i in range(300):
            gui.post(lambda i=i: seen.append((i, threading.get_ident())))

    async def scenario() -> None:
        thread = threading.Thread(target=worker)
        thread.start()
        await asyncio.get_running_loop().run_in_executor(None, thread.join)
        await gui.drain()  # everything posted before has run once this returns

    run(scenario())
    assert [i for i, _ in seen] == list(range(300))
    assert {ident for _, ident in seen} == {threading.get_ident()}


def test_gui_calls_made_on_another_thread_still_run_on_the_gui_thread(qapp) -> None:  # type: ignore[no-untyped-def]
    made: list[GuiCalls] = []
    thread = threading.Thread(target=lambda: made.append(GuiCalls()))
    thread.start()
    thread.join()
    assert made[0].thread() is qapp.thread()


@pytest.mark.slow
def test_the_session_runs_on_the_media_thread_and_the_window_hears_it_in_order(
        qtbot, run) -> None:  # type: ignore[no-untyped-def]
    gui_thread = threading.get_ident()

    async def scenario() -> None:
        server = await start_server(ServerConfig(port=0))
        surgeon = SessionController.from_specs(
            SessionConfig(server=server.url, room="mt", name="Dr Wang", role=Role.SURGEON),
            ["Laparoscope=synthetic:640x360@30"])
        trainee = SessionController(
            SessionConfig(server=server.url, room="mt", name="Osh", role=Role.TRAINEE), [])
        heard: list[tuple[str, int, bool]] = []  # event, thread, snapshot agreed
        chats: list[str] = []
        trainee.state_changed.connect(
            lambda state: heard.append((f"state:{state}", threading.get_ident(), True)))
        trainee.video_added.connect(lambda r: heard.append(
            ("video", threading.get_ident(),
             trainee.session is not None and r in trainee.session.receivers)))
        surgeon.chat_received.connect(lambda m: chats.append(m.text))
        surgeon.chat_received.connect(
            lambda m: heard.append(("chat", threading.get_ident(), True)))
        try:
            await surgeon.start()
            await trainee.start()
            assert trainee.state == "live" and isinstance(trainee.session, SessionView)
            assert trainee.media.running and surgeon.media.running
            await until(lambda: bool(trainee.receivers), seconds(15), "the surgeon's video")
            receiver = trainee.receivers[0]

            async def on_media_thread() -> tuple[bool, int]:
                return (threading.get_ident() != gui_thread, receiver.stats.frames)

            off_gui, frames = await trainee.media.run(on_media_thread())
            assert off_gui
            # The GUI thread stuck (a long paint, a modal dialog) does not stop packets
            # being received and frames decoded: at least half the 30 fps arrive meanwhile.
            blocked_at = time.monotonic()
            time.sleep(seconds(1.0))  # the block itself is what is tested, not a wait
            blocked = time.monotonic() - blocked_at
            _, after = await trainee.media.run(on_media_thread())
            assert after - frames >= int(15 * blocked), (after - frames, blocked)

            # Calls from the GUI thread reach the session in order.
            for i in range(20):
                trainee.send_chat(f"message {i}")
            expected = [f"message {i}" for i in range(20)]
            await until(lambda: chats == expected, seconds(10), "the chat at the surgeon")
        finally:
            await trainee.leave()
            await surgeon.leave()
            await server.close()

        assert trainee.state == "left"
        assert {ident for _, ident, _ in heard} == {gui_thread}
        assert all(agreed for _, _, agreed in heard)  # the snapshot came before the signal
        states = [event for event, _, _ in heard if event.startswith("state:")]
        assert states == ["state:live", "state:left"]
        # leaving ended the media threads; the window's calls are now harmless
        assert not trainee.media.running and trainee.media._thread is None
        assert not any(t.name == trainee.media.name for t in threading.enumerate())
        problems: list[str] = []
        trainee.problem.connect(problems.append)
        trainee.send_chat("too late")
        trainee.remove_participant("p-1")
        assert problems == ["not connected"]
        await trainee.leave()  # a second leave returns at once

    run(scenario())
