"""The lobby: validation, clear errors for wrong or unreachable servers, joining."""

from __future__ import annotations

import argparse
import socket

import pytest

from signaling_server.server import ServerConfig, start_server
from surgery_teach.protocol.messages import Role
from surgery_teach.settings import Settings
from tests.timing import seconds
from tests.ui.conftest import until
from ui.app import DesktopApp, build_parser
from ui.lobby import JoinRequest, Lobby


def lobby(qtbot, **settings: object) -> Lobby:  # type: ignore[no-untyped-def]
    widget = Lobby(Settings(**settings))  # type: ignore[arg-type]
    qtbot.addWidget(widget)
    return widget


def test_missing_name_is_explained_and_nothing_is_sent(qtbot) -> None:  # type: ignore[no-untyped-def]
    widget = lobby(qtbot, name="")
    sent: list[JoinRequest] = []
    widget.join_requested.connect(sent.append)
    widget.submit()
    assert sent == []
    assert "name" in widget.error.text()


def test_wrong_server_address_names_the_expected_form(qtbot) -> None:  # type: ignore[no-untyped-def]
    widget = lobby(qtbot, name="Dr Li", role="trainee", server="http://ruijin:8765")
    widget.submit()
    assert "ws://" in widget.error.text()


def test_malformed_source_is_explained(qtbot) -> None:  # type: ignore[no-untyped-def]
    widget = lobby(qtbot, name="Dr Li", role="surgeon", sources=["camera:abc:xyz"])
    widget.submit()
    assert widget.error.text()
    assert widget.join_button.isEnabled()


def test_valid_form_requests_a_join_and_remembers_the_room(qtbot) -> None:  # type: ignore[no-untyped-def]
    settings = Settings(name="Dr Ma", room="chole-0425", role="trainee")
    widget = Lobby(settings)
    qtbot.addWidget(widget)
    with qtbot.waitSignal(widget.join_requested, timeout=1000) as signal:
        widget.submit()
    request = signal.args[0]
    assert request == JoinRequest("", "chole-0425", "Dr Ma", Role.TRAINEE, ())
    assert settings.recent_rooms[0] == "chole-0425"
    assert not widget.sources.isEnabled()  # trainees do not send video


def args(*argv: str) -> argparse.Namespace:
    return build_parser().parse_args(list(argv))


def test_unreachable_server_returns_to_the_lobby_with_the_reason(qtbot, run) -> None:  # type: ignore[no-untyped-def]
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    app = DesktopApp(args(), Settings())

    async def scenario() -> None:
        await app.join(JoinRequest(f"ws://127.0.0.1:{port}", "case", "Dr Li", Role.MENTOR, ()))
        assert app.window is None
        assert app.lobby is not None and app.lobby.isVisible()
        assert app.lobby.error.text() == (
            f"Cannot reach the server at ws://127.0.0.1:{port} — check the address or start "
            "the server.")
        await app._shutdown()

    run(scenario())


def test_lobby_join_opens_the_session_and_leaving_returns(qtbot, run) -> None:  # type: ignore[no-untyped-def]
    async def scenario() -> None:
        server = await start_server(ServerConfig(port=0))
        app = DesktopApp(args(), Settings(name="Dr Li", server=server.url, role="trainee"))
        try:
            app.show_lobby()
            assert app.lobby is not None
            app.lobby.submit()
            await until(lambda: app.window is not None, seconds(10), "the session window")
            assert not app.lobby.isVisible()
            window = app.window
            assert window is not None
            window.leave()
            await until(lambda: app.window is None and app.lobby.isVisible(),  # type: ignore[union-attr]
                        seconds(10), "the lobby again")
        finally:
            await app._shutdown()
            await server.close()

    run(scenario())


@pytest.mark.parametrize("language", ["zh_CN", "ru"])
def test_switching_language_rebuilds_the_lobby(qtbot, language: str) -> None:  # type: ignore[no-untyped-def]
    from ui.i18n import catalog, set_language

    app = DesktopApp(args(), Settings())
    try:
        app.show_lobby()
        assert app.lobby is not None
        app.lobby.language.setCurrentIndex(app.lobby.language.findData(language))
        assert app.settings.language == language
        assert app.lobby.join_button.text() == catalog(language).get("Join", "Join")
    finally:
        set_language("en")
        if app.lobby is not None:
            app.lobby.close()


def test_a_room_token_goes_with_the_join_and_is_never_saved(qtbot, tmp_path) -> None:  # type: ignore[no-untyped-def]
    settings = Settings(name="Dr Ma", room="chole-0425", role="mentor", sources=[])
    widget = Lobby(settings)
    qtbot.addWidget(widget)
    import time

    from surgery_teach.protocol.tokens import issue_token
    from tests.signaling_server.conftest import SECRET

    token = issue_token(SECRET, room="chole-0425", role=Role.MENTOR, name="Dr Ma", ttl=600,
                        now=time.time())
    widget.token.setText(token)
    with qtbot.waitSignal(widget.join_requested, timeout=1000) as signal:
        widget.submit()
    assert signal.args[0].token == token
    path = tmp_path / "settings.json"
    settings.save(path)
    assert token.split(".")[1] not in path.read_text(encoding="utf-8")
    assert "eyJ" not in path.read_text(encoding="utf-8")


def test_the_language_box_shows_the_language_in_use_not_only_the_saved_one(qtbot) -> None:  # type: ignore[no-untyped-def]
    """`python -m ui --language ru` with English saved: the box says Русский."""
    from surgery_teach.settings import Settings
    from ui.i18n import set_language
    from ui.lobby import Lobby

    set_language("ru")
    try:
        lobby = Lobby(Settings(language="en"))
        qtbot.addWidget(lobby)
        assert lobby.language.currentData() == "ru"
    finally:
        set_language("en")
