"""The first run: the lobby asks for the role, offers video only to those who send it,
as a picker with a rescan; it explains how a second person joins; an empty server joins
the demo already running on this computer; every error in Russian is Russian."""

from __future__ import annotations

import argparse
import re
import socket
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest

from signaling_server.server import ServerConfig, start_server
from surgery_teach.capture import list_devices, parse_source_spec
from surgery_teach.local_server import find_local_server
from surgery_teach.protocol.messages import Role
from surgery_teach.settings import Settings
from tests.timing import seconds
from tests.ui.conftest import until
from ui.app import DesktopApp, build_parser
from ui.i18n import set_language
from ui.lobby import JoinRequest, Lobby

ENGLISH = re.compile(r"\b(the|cannot|server|check|address|name|room|enter|choose|your|"
                     r"connect|errno|call|failed|refused|role|video)\b", re.IGNORECASE)


def args(*argv: str) -> argparse.Namespace:
    return build_parser().parse_args(list(argv))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def russian() -> Iterator[None]:
    set_language("ru")
    try:
        yield
    finally:
        set_language("en")


def make_lobby(qtbot, settings: Settings) -> Lobby:  # type: ignore[no-untyped-def]
    widget = Lobby(settings)
    qtbot.addWidget(widget)
    widget.show()
    return widget


def requests_of(widget: Lobby) -> list[JoinRequest]:
    sent: list[JoinRequest] = []
    widget.join_requested.connect(sent.append)
    return sent


def assert_russian(text: str) -> None:
    assert text, "no error was shown"
    assert re.search(r"[А-Яа-яЁё]{4}", text), f"not Russian: {text!r}"
    assert not ENGLISH.search(text), f"English in the Russian lobby: {text!r}"


# -- the role and the video ----------------------------------------------------------------


def test_a_first_run_asks_for_the_role_and_offers_no_video_before_one_is_chosen(qtbot) -> None:  # type: ignore[no-untyped-def]
    widget = make_lobby(qtbot, Settings(name="Dr Ma"))  # a fresh settings file
    sent = requests_of(widget)
    assert widget.role.currentData() == ""  # not Surgeon
    assert not widget.sources.isVisible()
    widget.submit()
    assert sent == [] and "role" in widget.error.text()

    widget.role.setCurrentIndex(widget.role.findData(Role.SURGEON.value))
    assert widget.sources.isVisible()
    assert widget.sources.specs() == []  # no synthetic laparoscope nobody chose
    widget.submit()
    assert sent == [] and "video" in widget.error.text()

    widget.role.setCurrentIndex(widget.role.findData(Role.TRAINEE.value))
    assert not widget.sources.isVisible()
    widget.submit()
    assert sent == [JoinRequest("", "demo", "Dr Ma", Role.TRAINEE, ())]


def test_the_picker_lists_cameras_and_a_rescan_finds_one_plugged_in_later(
        qtbot, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    sysfs, dev = tmp_path / "sys", tmp_path / "dev"
    sysfs.mkdir()
    dev.mkdir()
    widget = make_lobby(qtbot, Settings(name="Dr Ma", role="surgeon"))
    widget.sources.cameras = partial(list_devices, sysfs=sysfs, dev=dev)
    widget.sources.rescan()
    items = [widget.sources.choice.itemText(i) for i in range(widget.sources.choice.count())]
    assert any("No camera found" in item for item in items)

    (dev / "video0").touch()  # the camera is plugged in
    (sysfs / "video0").mkdir()
    (sysfs / "video0" / "name").write_text("HD Webcam\n")
    widget.sources.rescan()
    index = widget.sources.choice.findText(f"Camera: {dev / 'video0'} (HD Webcam)")
    assert index >= 0
    widget.sources.choice.setCurrentIndex(index)
    sent = requests_of(widget)
    widget.submit()
    assert sent and sent[0].sources == (f"Laparoscope=camera:{dev / 'video0'}",)
    assert parse_source_spec(sent[0].sources[0]).target == str(dev / "video0")

    synthetic = widget.sources.choice.findText("Synthetic test picture (no camera needed)")
    widget.sources.choice.setCurrentIndex(synthetic)
    assert parse_source_spec(widget.sources.specs()[0]).kind.value == "synthetic"


def test_sources_typed_as_text_show_as_one_choice_and_go_with_the_join(qtbot) -> None:  # type: ignore[no-untyped-def]
    widget = make_lobby(qtbot, Settings(name="Dr Ma", role="mentor"))
    widget.sources.text_button.setChecked(True)
    widget.sources.text.setText("Scope=synthetic; Room=synthetic:640x360@30")
    widget.sources.text.editingFinished.emit()
    assert widget.sources.specs() == ["Scope=synthetic", "Room=synthetic:640x360@30"]
    assert "Scope" in widget.sources.choice.currentText()
    sent = requests_of(widget)
    widget.submit()
    assert sent[0].sources == ("Scope=synthetic", "Room=synthetic:640x360@30")


# -- validated in the form -----------------------------------------------------------------


def test_an_address_without_a_scheme_gets_ws(qtbot) -> None:  # type: ignore[no-untyped-def]
    widget = make_lobby(qtbot, Settings(name="Dr Ma", role="trainee",
                                        server="192.168.1.20:8765"))
    sent = requests_of(widget)
    widget.submit()
    assert sent[0].server == "ws://192.168.1.20:8765"
    assert widget.server.text() == "ws://192.168.1.20:8765"


def test_a_name_over_the_protocols_limit_is_said_while_typing(qtbot) -> None:  # type: ignore[no-untyped-def]
    widget = make_lobby(qtbot, Settings(role="trainee"))
    sent = requests_of(widget)
    widget.name.setText("Dr Zhang, Zepu County Hospital, Department of General Surgery, theatre 3")
    assert "the limit is 64" in widget.error.text()  # before Join is pressed
    widget.submit()
    assert sent == []


# -- errors in Russian ---------------------------------------------------------------------


@pytest.mark.parametrize("fields", [
    {"name": "x" * 119},
    {"room": "холецистэктомия 25"},
    {"server": "http://ruijin:8765"},
    {"server": "ws://:80:x"},
    {"role": ""},
    {"role": "surgeon"},  # and no video chosen
    {"name": ""},
    {"room": ""},
])
def test_every_form_error_is_russian(qtbot, russian: None, fields: dict[str, str]) -> None:  # type: ignore[no-untyped-def]
    settings = Settings(**{"name": "Доктор Ли", "role": "trainee", "room": "demo", **fields})
    widget = make_lobby(qtbot, settings)
    sent = requests_of(widget)
    widget.submit()
    assert sent == []
    assert_russian(widget.error.text())


def test_an_unreachable_server_is_explained_in_russian_with_the_fix(
        qtbot, run, russian: None) -> None:  # type: ignore[no-untyped-def]
    port = free_port()  # nothing listens: "[Errno 111] Connect call failed" underneath
    app = DesktopApp(args(), Settings())

    async def scenario() -> None:
        try:
            await app.join(JoinRequest(f"ws://127.0.0.1:{port}", "case", "Доктор Ли",
                                       Role.MENTOR, ()))
            assert app.window is None and app.lobby is not None
            text = app.lobby.error.text()
            assert f"ws://127.0.0.1:{port}" in text and "Errno" not in text
            assert_russian(text.replace(f"ws://127.0.0.1:{port}", ""))
        finally:
            await app._shutdown()

    run(scenario())


def test_a_refused_token_and_a_full_room_are_explained(qtbot, run) -> None:  # type: ignore[no-untyped-def]
    async def scenario() -> None:
        server = await start_server(ServerConfig(port=0, max_room_size=1))
        first = DesktopApp(args(), Settings())
        second = DesktopApp(args(), Settings())
        try:
            await first.join(JoinRequest(server.url, "tiny", "Dr Li", Role.TRAINEE, ()))
            assert first.window is not None
            await second.join(JoinRequest(server.url, "tiny", "Dr Ma", Role.TRAINEE, ()))
            assert second.window is None and second.lobby is not None
            assert second.lobby.error.text().startswith("Room tiny is full.")
        finally:
            for app in (first, second):
                await app._shutdown()
            await server.close()

    run(scenario())


# -- the demo on this computer -------------------------------------------------------------


def test_the_lobby_says_how_a_second_person_joins(qtbot) -> None:  # type: ignore[no-untyped-def]
    widget = make_lobby(qtbot, Settings(name="Dr Ma", role="trainee", room="demo"))
    help_text = widget.server_help.text()
    assert widget.server_help.isVisible()
    assert "ws://127.0.0.1:8765" in help_text and "second window" in help_text
    assert "Room demo" in help_text
    widget.server.setText("ws://teach.example-hospital.cn")
    widget.server.editingFinished.emit()
    assert not widget.server_help.isVisible()


def test_an_empty_server_joins_the_demo_already_running_on_this_computer(qtbot, run) -> None:  # type: ignore[no-untyped-def]
    """Two windows with the server left empty meet in one room: the second finds the
    first's built-in server instead of starting a private one on a random port."""
    port = free_port()
    first = DesktopApp(args(), Settings())
    second = DesktopApp(args(), Settings())
    first.local_port = second.local_port = port

    async def scenario() -> None:
        try:
            await first.join(JoinRequest("", "demo", "Dr Li", Role.MENTOR, ()))
            assert first.server is not None and first.server.port == port
            assert await find_local_server(port) == f"ws://127.0.0.1:{port}"
            await second.join(JoinRequest("", "demo", "Trainee Osh", Role.TRAINEE, ()))
            assert second.server is None  # no second server
            window = second.window
            assert window is not None
            await until(lambda: window.controller.session is not None and any(
                p.name == "Dr Li" for p in window.controller.session.participants.values()),
                seconds(10), "the first window's participant in the second's room")
            assert first.window is not None  # which tells how others join
            text = first.window.chat.log.toPlainText()
            assert f"ws://127.0.0.1:{port}" in text and "room demo" in text
        finally:
            await second._shutdown()
            await first._shutdown()

    run(scenario())


def test_a_second_demo_window_joins_the_running_demo_as_a_trainee(qtbot, run) -> None:  # type: ignore[no-untyped-def]
    """`make run` twice: the second window is the second person (a trainee watching), not
    a second surgeon streaming synthetic video into the same room."""
    port = free_port()
    first = DesktopApp(args("--demo"), Settings())
    second = DesktopApp(args("--demo"), Settings())
    first.local_port = second.local_port = port

    async def scenario() -> None:
        try:
            demo = first._direct_request()
            assert demo is not None and demo.role == Role.SURGEON and demo.sources
            assert await first._second_demo_window(demo) == demo  # nothing runs yet
            await first.join(JoinRequest("", "demo", "Dr Li", Role.SURGEON, ()))
            joining = await second._second_demo_window(demo)
            assert (joining.room, joining.role, joining.sources) == ("demo", Role.TRAINEE, ())
            asked = DesktopApp(args("--demo", "--role", "mentor"), Settings())
            asked.local_port = port
            wanted = asked._direct_request()
            assert wanted is not None and await asked._second_demo_window(wanted) == wanted
        finally:
            await first._shutdown()

    run(scenario())
