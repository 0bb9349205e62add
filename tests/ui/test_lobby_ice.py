"""The lobby's ICE servers (Advanced): one a line, checked, remembered, handed to the session;
a password never shows in an error, a repr or other people's view of the settings file."""

from __future__ import annotations

import re
import stat
from pathlib import Path

from surgery_teach.protocol.ice import IceServer
from surgery_teach.protocol.messages import Role
from surgery_teach.settings import Settings
from ui.app import DesktopApp, build_parser
from ui.i18n import set_language
from ui.lobby import JoinRequest, Lobby

RELAY = "turn:teach:pw%40north-7@turn.example-hospital.cn:3478"


def lobby(qtbot, settings: Settings) -> Lobby:  # type: ignore[no-untyped-def]
    widget = Lobby(settings)
    qtbot.addWidget(widget)
    return widget


def test_ice_servers_reach_the_join_request_and_the_settings(qtbot, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    settings = Settings(name="Dr Ma", room="chole-0425", role="trainee")
    widget = lobby(qtbot, settings)
    assert not widget.advanced_button.isChecked()
    widget.ice_servers.setPlainText(f"  stun:turn.example-hospital.cn\n\n{RELAY}\n")
    with qtbot.waitSignal(widget.join_requested, timeout=1000) as signal:
        widget.submit()
    request: JoinRequest = signal.args[0]
    assert request.role is Role.TRAINEE
    assert request.ice_servers == (
        IceServer(("stun:turn.example-hospital.cn",)),
        IceServer(("turn:turn.example-hospital.cn:3478",), "teach", "pw@north-7"),
    )
    assert settings.ice_servers == ["stun:turn.example-hospital.cn", RELAY]
    assert "north-7" not in repr(settings)
    saved = tmp_path / "settings.json"
    settings.save(saved)
    assert stat.S_IMODE(saved.stat().st_mode) == 0o600  # it holds the password
    reopened = lobby(qtbot, Settings.load(saved))
    assert reopened.advanced_button.isChecked()  # what is set there is in view
    assert reopened.ice_servers.toPlainText() == f"stun:turn.example-hospital.cn\n{RELAY}"


def test_a_bad_line_is_named_and_nothing_is_sent(qtbot) -> None:  # type: ignore[no-untyped-def]
    widget = lobby(qtbot, Settings(name="Dr Ma"))
    sent: list[JoinRequest] = []
    widget.join_requested.connect(sent.append)
    widget.ice_servers.setPlainText("stun:turn.example-hospital.cn\n"
                                    "turn:teach:s3cret-9@turn.example-hospital.cn:99999")
    widget.submit()
    assert sent == []
    error = widget.error.text()
    assert error == ("Line 2 of the ICE servers (Advanced): the port must be a number from "
                     "1 to 65535.")
    assert widget.join_button.isEnabled()


def test_the_error_is_in_the_users_language(qtbot) -> None:  # type: ignore[no-untyped-def]
    set_language("zh_CN")
    try:
        widget = lobby(qtbot, Settings(name="Dr Ma"))
        widget.ice_servers.setPlainText("http://turn.example-hospital.cn")
        widget.submit()
        error = widget.error.text()
        assert error.startswith("ICE 服务器（高级）第 1 行必须以 stun:")
        assert not re.search("[a-z]{5}", error.replace("stun", "").replace("turns", ""))
    finally:
        set_language("en")


def test_a_direct_join_uses_the_saved_ice_servers() -> None:
    settings = Settings(ice_servers=[RELAY])
    args = build_parser().parse_args(["--room", "chole-0425", "--name", "Dr Ma",
                                      "--role", "trainee"])
    request = DesktopApp(args, settings)._direct_request()
    assert request is not None
    assert request.ice_servers == (
        IceServer(("turn:turn.example-hospital.cn:3478",), "teach", "pw@north-7"),)
