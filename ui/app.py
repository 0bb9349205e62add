"""Desktop client entry point: ``python -m ui``.

With no ``--server`` it starts a signaling server inside the app on 127.0.0.1, so one
computer (or a demo) needs nothing else. ``--room/--name/--role`` join directly, skipping
the lobby (OR PCs are set up this way). One asyncio loop runs inside Qt (qasync), started
once for the life of the program, for the windows (and a local server); each session's
media runs on a loop of its own, in its own thread (see :mod:`ui.session.controller`).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from pathlib import Path

import qasync
from PyQt6.QtCore import QTimer
from PyQt6.QtWidgets import QApplication

from signaling_server.server import RunningServer, ServerConfig, start_server
from surgery_teach import __version__
from surgery_teach.errors import ConfigError, SurgeryTeachError
from surgery_teach.local_server import (
    LOCAL_PORT,
    find_local_server,
    local_url,
    preferred_port,
)
from surgery_teach.protocol.messages import Role
from surgery_teach.rtc.session import SessionConfig
from surgery_teach.settings import Settings, server_state_dir
from ui.common.explain import explain_join_error
from ui.common.gui_gc import GuiGarbageCollector
from ui.i18n import set_language, tr
from ui.library.window import LibraryWindow, recordings_folder
from ui.lobby import JoinRequest, Lobby, read_ice_servers
from ui.qt_translations import install_qt_translations
from ui.session.controller import SessionController
from ui.session.window import SessionWindow
from ui.theme import apply_theme

logger = logging.getLogger("ui")


def build_parser() -> argparse.ArgumentParser:
    prog = Path(sys.argv[0]).name if getattr(sys, "frozen", False) else "python -m ui"
    parser = argparse.ArgumentParser(prog=prog, description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--server", help="signaling server ws:// URL (default: a local one)")
    parser.add_argument("--room", help="join this room directly, skipping the lobby")
    parser.add_argument("--name", help="your display name")
    parser.add_argument("--role", choices=[r.value for r in Role])
    parser.add_argument("--token", default=os.environ.get("SURGERY_TEACH_TOKEN", ""),
                        help="room token for a secured server (or SURGERY_TEACH_TOKEN)")
    parser.add_argument("--ca-file", default="",
                        help="PEM certificate of the CA that signed a wss:// server's "
                             "certificate, when this computer does not trust it already")
    parser.add_argument("--source", action="append", default=[],
                        help="video source to publish (repeatable), e.g. Laparoscope=camera:0")
    parser.add_argument("--language", choices=["en", "zh_CN", "ru"])
    parser.add_argument("--demo", action="store_true",
                        help="join a local demo room at once as a surgeon with synthetic video")
    parser.add_argument("--library", nargs="?", const="", metavar="DIR",
                        help="open the library of recorded cases (in DIR, default: the "
                             "recordings folder) instead of the lobby")
    parser.add_argument("--self-test", action="store_true",
                        help="open the window, render synthetic video, exit 0 (for packaging)")
    parser.add_argument("--screenshot", type=Path, help="with --self-test: save the window here")
    parser.add_argument("--log-level", default="warning")
    parser.add_argument("--version", action="version", version=__version__)
    return parser


def local_port() -> int:
    """8765 when free (others on this computer can find it), else any free port."""
    return preferred_port(LOCAL_PORT)


async def start_local_server(port: int, state_dir: Path | None) -> RunningServer:
    """The built-in server on 127.0.0.1:``port``, keeping rooms in ``state_dir``; if that
    folder is in use (another copy of the app runs its server) or cannot be written, rooms
    are kept in memory only."""
    try:
        return await start_server(ServerConfig(host="127.0.0.1", port=port, state_dir=state_dir))
    except ConfigError as exc:
        logger.warning("local signaling server keeps rooms in memory only: %s", exc)
        return await start_server(ServerConfig(host="127.0.0.1", port=port))


class DesktopApp:
    """Owns the windows and the optional local server for the life of the program."""

    def __init__(self, args: argparse.Namespace, settings: Settings) -> None:
        self.args = args
        self.settings = settings
        self.server: RunningServer | None = None
        self.lobby: Lobby | None = None
        self.window: SessionWindow | None = None
        self.library: LibraryWindow | None = None
        self.done = asyncio.Event()
        self.exit_code = 0
        #: Where the server on this computer is looked for, and started when none runs.
        self.local_port = LOCAL_PORT
        self.local_server_url = ""  # the built-in (or found) server joined last, if any

    async def run(self) -> int:
        try:
            if self.args.self_test:
                return await self._self_test()
            try:
                request = self._direct_request()
            except SurgeryTeachError as exc:  # a bad ICE server line in the settings
                request, problem = None, str(exc)
            else:
                problem = ""
            if request is not None and self.args.demo:
                request = await self._second_demo_window(request)
            if self.args.library is not None:
                self.show_library(Path(self.args.library) if self.args.library else None)
            elif request is not None:
                await self.join(request)
            else:
                self.show_lobby(problem)
            await self.done.wait()
        finally:
            await self._shutdown()
        return self.exit_code

    def _direct_request(self) -> JoinRequest | None:
        a = self.args
        if a.demo:
            return JoinRequest(a.server or "", a.room or "demo", a.name or tr("Demo surgeon"),
                               Role(a.role or "surgeon"),
                               tuple(a.source or ["Laparoscope=synthetic:1280x720@30",
                                                  "Room camera=synthetic:640x360@30"]))
        if a.room and a.name and a.role:
            return JoinRequest(a.server or "", a.room, a.name, Role(a.role), tuple(a.source),
                               a.token, a.ca_file or self.settings.ca_file,
                               read_ice_servers(self.settings.ice_servers))
        return None

    async def _second_demo_window(self, request: JoinRequest) -> JoinRequest:
        """The demo's request, unless a demo already runs on this computer and no role was
        asked for: then this window is the second person, a trainee watching (not a second
        surgeon streaming fake video), which is how a newcomer sees others join."""
        if self.args.role or self.args.server or self.args.name or self.args.source:
            return request
        if await find_local_server(self.local_port) is None:
            return request
        logger.info("a demo already runs on this computer: joining it as a trainee")
        return JoinRequest(request.server, request.room, tr("Demo trainee"), Role.TRAINEE, ())

    async def server_url(self, requested: str) -> str:
        """``requested``, or for an empty one the server on this computer: the one this
        app started, else one already running on :data:`LOCAL_PORT` (another window's,
        or ``make demo-headless``), else a new one, so two windows meet in one room."""
        if requested:
            return requested
        if self.server is None:
            found = await find_local_server(self.local_port)
            if found is not None:
                logger.info("joining the signaling server already running on %s", found)
                self.local_server_url = found
                return found
            self.server = await start_local_server(preferred_port(self.local_port),
                                                   server_state_dir())
            logger.info("local signaling server on %s", self.server.url)
        self.local_server_url = self.server.url
        return self.server.url

    def show_lobby(self, error: str = "") -> None:
        if self.lobby is None:
            self.lobby = Lobby(self.settings)
            self.lobby.join_requested.connect(self._on_join_requested)
            self.lobby.language_changed.connect(self._on_language)
            self.lobby.library_requested.connect(self.show_library)
            if self.args.ca_file:
                self.lobby.ca_file.setText(self.args.ca_file)
            if self.args.token:  # fills in the room, role and name it was issued for
                self.lobby.token.setText(self.args.token)
        self.lobby.show_error(error)
        self.lobby.show()

    def show_library(self, folder: Path | None = None) -> None:
        """The recorded cases (``folder``, default the recordings folder in the settings)."""
        if self.library is None:
            self.library = LibraryWindow(folder or recordings_folder(self.settings))
            self.library.folder_changed.connect(self._on_library_folder)
            self.library.refresh()
        elif folder is not None:
            self.library.set_folder(folder)
        self.library.show()
        self.library.raise_()

    def _on_library_folder(self, folder: str) -> None:
        self.settings.recordings_dir = folder  # recordings and the library share it
        self.settings.save()

    def _on_language(self, code: str) -> None:
        self.settings.language = set_language(code)
        install_qt_translations(self.settings.language)
        self.settings.save()
        if self.lobby is not None:  # rebuild so every label is in the new language
            self.lobby.close()
            self.lobby.deleteLater()
            self.lobby = None
            self.show_lobby()

    def _on_join_requested(self, request: JoinRequest) -> None:
        self.settings.save()
        if self.lobby is not None:
            self.lobby.busy(tr("Connecting…"))
        self._join_task = asyncio.ensure_future(self.join(request))

    async def join(self, request: JoinRequest) -> None:
        url = request.server
        try:
            url = await self.server_url(request.server)
            config = SessionConfig(server=url, room=request.room, name=request.name,
                                   role=request.role, token=request.token,
                                   ca_file=request.ca_file, ice_servers=request.ice_servers)
            controller = SessionController.from_specs(
                config, list(request.sources), microphone=self.settings.microphone,
                speaker=self.settings.speaker)
            try:
                await controller.start()
            except BaseException:
                await controller.leave()
                raise
        except SurgeryTeachError as exc:
            self.show_lobby(explain_join_error(exc, server=url, room=request.room))
            return
        if self.lobby is not None:
            self.lobby.hide()
        self.window = SessionWindow(controller)
        self.window.telestration.fade_after = max(0.5, float(self.settings.fade_seconds))
        self.window.closed.connect(self._on_session_closed)
        if not request.server:  # the server on this computer: say how others join
            self.window.chat.note(invite_text(url, request.room))
        self.window.show()

    def _on_session_closed(self) -> None:
        reason = self.window.end_reason if self.window is not None else ""
        self.window = None
        if reason:  # removed, or no longer admitted: even an OR PC shows why
            self.show_lobby(reason)
        elif self.args.room and not self.args.demo:
            self.done.set()  # a directly joined OR PC exits when the case is left
        else:
            self.show_lobby()

    async def _self_test(self) -> int:
        await self.join(JoinRequest("", "self-test", "Self test", Role.SURGEON,
                                    ("Laparoscope=synthetic:1280x720@30",)))
        window = self.window
        if window is None:
            print("self-test failed: could not start a session", file=sys.stderr)
            return 1
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 30
        while window.stage.main.frames_painted < 5:
            if loop.time() > deadline:
                print("self-test failed: no video frame was drawn", file=sys.stderr)
                return 1
            await asyncio.sleep(0.05)
        if self.args.screenshot:
            screen = QApplication.primaryScreen()
            on_screen = os.environ.get("QT_QPA_PLATFORM", "") != "offscreen" and screen
            # On a real (or virtual X) display, photograph the screen itself.
            picture = screen.grabWindow(0) if on_screen else window.grab()  # type: ignore[union-attr]
            picture.save(str(self.args.screenshot))
        print(f"self-test ok: {window.stage.main.frames_painted} frames drawn")
        window.leave()
        await asyncio.sleep(0)
        return 0

    async def _shutdown(self) -> None:
        window = self.window  # (None once it has left, which may happen meanwhile)
        if window is not None:
            await window.controller.leave()
            window.close()
        if self.library is not None:  # players stop their decoding and sound threads
            for player in list(self.library.players):
                player.close()
            self.library.close()
        if self.server is not None:
            await self.server.close()


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=getattr(logging, args.log_level.upper(), logging.WARNING),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if not _has_display():
        if not args.self_test:
            print("error: no display found. Start the client from a desktop session, or "
                  "under a virtual screen: xvfb-run -a python -m ui", file=sys.stderr)
            return 2
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
    settings = Settings.load()
    in_use = set_language(args.language or settings.language)
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("surgery_teach")
    GuiGarbageCollector(app)  # cycles holding Qt objects die on this thread only
    install_qt_translations(in_use)
    apply_theme(app)  # type: ignore[arg-type]
    desktop = DesktopApp(args, settings)
    app.setQuitOnLastWindowClosed(False)
    app.lastWindowClosed.connect(lambda: QTimer.singleShot(0, _quit_if_no_window(desktop)))
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    try:
        with loop:
            return loop.run_until_complete(desktop.run())
    except KeyboardInterrupt:
        return 130


def invite_text(url: str, room: str) -> str:
    """How a second person on this computer joins the case just joined."""
    if url == local_url(LOCAL_PORT):  # where an empty server field looks first
        return tr("Others on this computer join this case by starting the client with the "
                  "server left empty (or {url}) and room {room}. The built-in server does "
                  "not accept other computers.", url=url, room=room)
    return tr("Others on this computer join this case by starting the client with server "
              "{url} and room {room}. The built-in server does not accept other computers.",
              url=url, room=room)


def _has_display() -> bool:
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
                or os.environ.get("QT_QPA_PLATFORM"))


def _quit_if_no_window(desktop: DesktopApp):  # type: ignore[no-untyped-def]
    def check() -> None:
        lobby_visible = desktop.lobby is not None and desktop.lobby.isVisible()
        library = desktop.library
        library_visible = library is not None and (
            library.isVisible() or any(p.isVisible() for p in library.players))
        if desktop.window is None and not lobby_visible and not library_visible:
            desktop.done.set()
    return check
