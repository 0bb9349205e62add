"""Room tokens in the lobby, a private CA, removing a participant and being removed.

Real widgets, a real server with room tokens and an audit log, real sessions.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import QMessageBox

from signaling_server.server import ServerConfig, start_server
from surgery_teach.protocol.messages import ParticipantInfo, Publishes, Role
from surgery_teach.protocol.tokens import issue_token
from surgery_teach.rtc.session import SessionConfig
from surgery_teach.settings import Settings
from tests.rtc.certs import make_private_ca
from tests.signaling_server.conftest import SECRET
from tests.timing import seconds
from tests.ui.conftest import until
from ui.app import DesktopApp, build_parser
from ui.lobby import JoinRequest, Lobby, when
from ui.session.controller import SessionController
from ui.session.panels import ParticipantsPanel
from ui.session.window import SessionWindow


def token(room: str, name: str, role: Role, *, ttl: float = 4 * 3600,
          now: float | None = None) -> str:
    return issue_token(SECRET, room=room, role=role, name=name, ttl=ttl,
                       now=time.time() if now is None else now)


def lobby(qtbot, **settings: object) -> Lobby:  # type: ignore[no-untyped-def]
    widget = Lobby(Settings(**settings))  # type: ignore[arg-type]
    qtbot.addWidget(widget)
    return widget


# -- the lobby and room tokens --------------------------------------------------------------


def test_a_pasted_token_fills_in_and_fixes_room_role_and_name_and_shows_its_expiry(
        qtbot) -> None:  # type: ignore[no-untyped-def]
    widget = lobby(qtbot, name="someone", room="demo", role="surgeon")
    pasted = token("chole-0425", "Trainee Osh", Role.TRAINEE, ttl=2 * 3600)
    widget.token.setText(f"  {pasted}\n")
    assert widget.room.currentText() == "chole-0425"
    assert widget.name.text() == "Trainee Osh"
    assert widget.role.currentData() == "trainee"
    assert not (widget.room.isEnabled() or widget.name.isEnabled() or widget.role.isEnabled())
    assert widget.name.toolTip() == "Set by the room token"
    until_time = when(widget.claims.expires_at, time.time())  # type: ignore[union-attr]
    assert f"valid until {until_time}." in widget.token_status.text()
    assert widget.token_status.objectName() == "muted"
    with qtbot.waitSignal(widget.join_requested, timeout=1000) as signal:
        widget.submit()
    assert signal.args[0] == JoinRequest("", "chole-0425", "Trainee Osh", Role.TRAINEE, (),
                                         pasted)
    widget.token.setText("")  # without a token the fields are the user's again
    assert widget.room.isEnabled() and widget.name.isEnabled() and widget.role.isEnabled()
    assert widget.token_status.isHidden()


def test_an_expired_token_is_explained_and_not_sent(qtbot) -> None:  # type: ignore[no-untyped-def]
    widget = lobby(qtbot, name="Dr Li")
    widget.token.setText(token("chole-0425", "Dr Li", Role.MENTOR, ttl=600,
                               now=time.time() - 3600))
    assert "expired at" in widget.token_status.text()
    assert "new one" in widget.token_status.text()
    assert widget.token_status.objectName() == "error"
    sent: list[JoinRequest] = []
    widget.join_requested.connect(sent.append)
    widget.submit()
    assert sent == []
    assert not widget.token_status.isHidden()  # the problem is shown under the token
    assert widget.error.text() == ""  # and only there


def test_a_malformed_token_is_explained_and_leaves_the_fields_free(qtbot) -> None:  # type: ignore[no-untyped-def]
    widget = lobby(qtbot, name="Dr Li")
    widget.token.setText("eyJhbGciOiJIUzI1NiJ9.not-a-token")
    assert "not a valid room token" in widget.token_status.text()
    assert widget.room.isEnabled() and widget.name.isEnabled()
    sent: list[JoinRequest] = []
    widget.join_requested.connect(sent.append)
    widget.submit()
    assert sent == [] and "not a valid room token" in widget.token_status.text()


def test_expiry_shows_the_clock_time_and_the_date_when_not_today() -> None:
    now = time.mktime((2026, 11, 25, 9, 0, 0, 0, 0, -1))
    assert when(now + 7 * 3600 + 40 * 60, now) == "16:40"
    assert when(now + 24 * 3600, now) == "2026-11-26 09:00"


def test_the_ca_file_under_advanced_is_checked_sent_and_remembered(qtbot, tmp_path) -> None:  # type: ignore[no-untyped-def]
    widget = lobby(qtbot, name="Dr Li", role="trainee")
    assert widget.advanced.isHidden()  # folded until needed
    widget.advanced_button.click()
    assert not widget.advanced.isHidden()
    widget.ca_file.setText(str(tmp_path / "missing.pem"))
    widget.submit()
    assert "does not exist" in widget.error.text()
    ca = make_private_ca(tmp_path)
    widget.ca_file.setText(str(ca.ca))
    with qtbot.waitSignal(widget.join_requested, timeout=1000) as signal:
        widget.submit()
    assert signal.args[0].ca_file == str(ca.ca)
    assert widget.settings.ca_file == str(ca.ca)
    again = lobby(qtbot, ca_file=str(ca.ca))
    assert not again.advanced.isHidden() and again.ca_file.text() == str(ca.ca)


def test_the_desktop_client_takes_a_ca_file_and_a_token_on_the_command_line(qtbot) -> None:  # type: ignore[no-untyped-def]
    args = build_parser().parse_args(["--room", "r", "--name", "n", "--role", "mentor",
                                      "--ca-file", "/etc/hospital-ca.pem"])
    request = DesktopApp(args, Settings())._direct_request()
    assert request is not None and request.ca_file == "/etc/hospital-ca.pem"
    pasted = token("chole-0425", "Dr Li", Role.MENTOR)
    app = DesktopApp(build_parser().parse_args(["--token", pasted, "--ca-file", "ca.pem"]),
                     Settings())
    app.show_lobby()
    assert app.lobby is not None
    qtbot.addWidget(app.lobby)
    assert app.lobby.name.text() == "Dr Li" and not app.lobby.name.isEnabled()
    assert app.lobby.ca_file.text() == "ca.pem"


@pytest.mark.slow
def test_the_desktop_client_joins_a_wss_server_with_the_hospitals_ca(qtbot, run, tmp_path) -> None:  # type: ignore[no-untyped-def]
    ca = make_private_ca(tmp_path)

    async def scenario() -> None:
        server = await start_server(ServerConfig(port=0, cert_file=ca.cert, key_file=ca.key))
        app = DesktopApp(build_parser().parse_args([]), Settings())
        try:
            await app.join(JoinRequest(server.url, "case", "Dr Li", Role.TRAINEE, ()))
            assert app.window is None and app.lobby is not None
            assert "CA certificate under Advanced" in app.lobby.error.text()  # the fix
            await app.join(JoinRequest(server.url, "case", "Dr Li", Role.TRAINEE, (),
                                       ca_file=str(ca.ca)))
            assert app.window is not None and app.window.controller.state == "live"
        finally:
            await app._shutdown()
            await server.close()

    run(scenario())


# -- the participants panel -----------------------------------------------------------------


def participant(pid: str, name: str, role: Role, can_draw: bool = False) -> ParticipantInfo:
    return ParticipantInfo(pid, name, role, Publishes(), can_draw)


def test_a_trainee_allowed_to_draw_is_marked_in_the_list(qtbot) -> None:  # type: ignore[no-untyped-def]
    panel = ParticipantsPanel()
    qtbot.addWidget(panel)
    me = participant("p-1", "Dr Li", Role.MENTOR, True)
    panel.show_participants(me, [participant("p-2", "Osh", Role.TRAINEE, True),
                                 participant("p-3", "Ma", Role.TRAINEE)], set())
    lines = {panel.list.item(i).text().split(" — ")[0]: panel.list.item(i).text()
             for i in range(panel.list.count())}
    assert "✎ may draw" in lines["Osh"]
    assert "may draw" not in lines["Ma"] and "may draw" not in lines["Dr Li"]


def test_remove_is_offered_only_for_whom_the_role_may_remove(qtbot) -> None:  # type: ignore[no-untyped-def]
    panel = ParticipantsPanel()
    qtbot.addWidget(panel)
    me = participant("p-1", "Dr Li", Role.MENTOR, True)
    others = [participant("p-2", "Osh", Role.TRAINEE), participant("p-3", "Dr Wang", Role.SURGEON)]
    panel.show_participants(me, others, set())
    assert panel.remove_button.isHidden()  # not offered until the window allows it
    assert panel.context_menu(panel.list.item(2)) is None

    # the controller's rule: not oneself, and what the server's role rules allow
    panel.allow_removal(lambda p: p.id != me.id and p.role is not Role.SURGEON)
    items = {panel.list.item(i).data(Qt.ItemDataRole.UserRole): panel.list.item(i)
             for i in range(panel.list.count())}
    assert not panel.remove_button.isHidden()
    panel.list.setCurrentItem(items["p-1"])
    assert not panel.remove_button.isEnabled()
    assert panel.context_menu(items["p-1"]) is None and panel.context_menu(items["p-3"]) is None
    menu = panel.context_menu(items["p-2"])
    assert menu is not None
    assert [a.text() for a in menu.actions()] == ["Remove Osh from room…"]

    asked: list[str] = []
    panel.remove_requested.connect(asked.append)
    menu.actions()[0].trigger()
    box = panel.confirmation
    assert box is not None and "Remove Osh (Trainee) from the room?" in box.text()
    assert box.defaultButton().text() == "Cancel"  # Enter does not remove anyone
    box.defaultButton().click()
    assert asked == [] and panel.confirmation is None  # cancelled: nothing sent


def test_only_the_surgeon_and_mentors_get_the_remove_action(qtbot) -> None:  # type: ignore[no-untyped-def]
    """The server's rule (surgery_teach.protocol.roles): nobody else may send ``remove``."""
    allowed = {}
    for role in Role:
        config = SessionConfig(server="ws://127.0.0.1:1", room="r", name="n", role=role)
        allowed[role] = SessionController(config, [], speak=False).can_remove
    assert allowed == {Role.SURGEON: True, Role.MENTOR: True, Role.TRAINEE: False,
                       Role.STUDENT: False}


def test_the_removal_names_who_did_it_or_else_gives_the_servers_words() -> None:
    from ui.session.controller import removal_text

    server_words = ("mentor 'Dr Li' removed you from room 'case'; you may not join it again "
                    "while your token lasts")
    assert removal_text(server_words, "case") == "Dr Li removed you from room case."
    assert removal_text('surgeon "O\'Neil" removed you from room \'case\'', "case") == (
        "O'Neil removed you from room case.")
    assert removal_text("you were removed from room 'case'; you may not join it again while "
                        "your token lasts", "case") == (
        "You were removed from room case and cannot join it again while your room token lasts.")
    assert removal_text("removed by a mentor", "case") == (
        "You were removed from room case: removed by a mentor")


# -- removing and being removed, end to end -------------------------------------------------


def audit_lines(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def remove_button(box: QMessageBox):  # type: ignore[no-untyped-def]
    return next(b for b in box.buttons() if b.text() == "Remove")


@pytest.mark.slow
def test_a_mentor_removes_a_trainee_who_is_told_and_never_comes_back(
        qtbot, run, tmp_path) -> None:  # type: ignore[no-untyped-def]
    audit = tmp_path / "audit.jsonl"

    async def scenario() -> None:
        server = await start_server(ServerConfig(port=0, secret=SECRET, audit_log=audit))
        mentor = SessionController(
            SessionConfig(server=server.url, room="case", name="Dr Li", role=Role.MENTOR,
                          token=token("case", "Dr Li", Role.MENTOR)), [], speak=False)
        app = DesktopApp(build_parser().parse_args([]), Settings())
        try:
            await mentor.start()
            mentor_window = SessionWindow(mentor)
            qtbot.addWidget(mentor_window)
            mentor_window.show()
            await app.join(JoinRequest(server.url, "case", "Trainee Osh", Role.TRAINEE, (),
                                       token("case", "Trainee Osh", Role.TRAINEE)))
            trainee_window = app.window
            assert trainee_window is not None
            trainee = trainee_window.controller
            banner_texts: list[str] = []
            trainee.stopped.connect(lambda _: banner_texts.append(trainee_window.banner.text()))

            panel = mentor_window.participants
            await until(lambda: panel.list.count() == 2, seconds(10), "the trainee listed")
            assert not panel.remove_button.isHidden()
            panel.list.setCurrentRow(1)
            assert panel.selected().name == "Trainee Osh"  # type: ignore[union-attr]
            panel.remove_button.click()
            box = panel.confirmation
            assert box is not None and "Trainee Osh" in box.text()
            remove_button(box).click()

            await until(lambda: panel.list.count() == 1, seconds(10),
                        "the trainee gone from the mentor's list")
            await until(lambda: app.window is None and app.lobby is not None
                        and app.lobby.isVisible(), seconds(10), "the trainee's lobby")
            told = "Dr Li removed you from room case."
            assert banner_texts == [told]  # the window said it before closing
            assert app.lobby.error.text() == told  # type: ignore[union-attr]
            assert trainee.state == "left" and trainee.stopped_reason == told
            assert trainee_window.isHidden()

            # no retries: nothing more reaches the server from the trainee
            await until(lambda: any(line["event"] == "removal" for line in audit_lines(audit)),
                        seconds(5), "the audit line")
            count = len(audit_lines(audit))
            deadline = time.monotonic() + seconds(2)  # longer than the first retry delays
            await until(lambda: time.monotonic() > deadline, seconds(5), "a quiet while")
            lines = audit_lines(audit)
            assert len(lines) == count, lines[count:]
            trainee_joins = [line for line in lines
                             if line["name"] == "Trainee Osh" and line["event"] == "join"]
            assert len(trainee_joins) == 1
            assert not [line for line in lines if line["status"] in (401, 403)]
        finally:
            await app._shutdown()
            await mentor.leave()
            await server.close()

    run(scenario())


@pytest.mark.slow
def test_a_403_while_reconnecting_stops_the_retries_with_the_reason(
        qtbot, run, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Removed while the link was down (the news never arrived): the rejoin gets 403."""
    from tests.rtc.proxy import StallableProxy

    audit = tmp_path / "audit.jsonl"

    async def scenario() -> None:
        server = await start_server(ServerConfig(port=0, secret=SECRET, audit_log=audit))
        proxy = StallableProxy(server.port)
        await proxy.start()
        mentor = SessionController(
            SessionConfig(server=server.url, room="case", name="Dr Li", role=Role.MENTOR,
                          token=token("case", "Dr Li", Role.MENTOR)), [], speak=False)
        trainee = SessionController(
            SessionConfig(server=proxy.url, room="case", name="Osh", role=Role.TRAINEE,
                          token=token("case", "Osh", Role.TRAINEE)), [])
        stopped: list[str] = []
        trainee.stopped.connect(stopped.append)
        try:
            await mentor.start()
            await trainee.start()
            window = SessionWindow(trainee)
            qtbot.addWidget(window)
            window.show()
            trainee_id = trainee.session.me.id  # type: ignore[union-attr]
            await until(lambda: trainee_id in mentor.session.participants,  # type: ignore[union-attr]
                        seconds(10), "the trainee in the room")
            proxy.stall()
            mentor.remove_participant(trainee_id)
            await until(lambda: trainee.state == "reconnecting", seconds(15), "reconnecting")
            proxy.flowing.set()
            await until(lambda: bool(stopped), seconds(20), "the refusal")
            assert stopped[0] == ("The server refused this token for room case: it is for "
                                  "another case, or you were removed from this one.")
            await until(lambda: trainee.state == "left", seconds(10), "the window to leave")
            assert window.end_reason == stopped[0]
            refused = [line for line in audit_lines(audit) if line["status"] == 403]
            deadline = time.monotonic() + seconds(2)
            await until(lambda: time.monotonic() > deadline, seconds(5), "a quiet while")
            assert len([line for line in audit_lines(audit) if line["status"] == 403]) == 1
            assert len(refused) == 1
        finally:
            await trainee.leave()
            await mentor.leave()
            await proxy.close()
            await server.close()

    run(scenario())
