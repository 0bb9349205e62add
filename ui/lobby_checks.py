"""The lobby's fields checked before anything is sent, with the protocol's own limits.

Each check returns the value to use (an address gets ``ws://`` when it has no scheme) or
raises :class:`FormProblem` with a translated sentence saying what to change, so the
server never has to refuse a name for being 119 characters long.
"""

from __future__ import annotations

from urllib.parse import urlparse

from surgery_teach.errors import ProtocolError, SurgeryTeachError
from surgery_teach.local_server import LOCAL_PORT, local_url
from surgery_teach.protocol.messages import Role
from surgery_teach.wire.fields import MAX_NAME_CHARS, MAX_ROOM_CHARS, check_room
from ui.i18n import tr, tr_n


class FormProblem(SurgeryTeachError):
    """A lobby field that cannot be sent as it is; the text says what to change."""


def server_address(text: str) -> str:
    """The signaling server address to use: ``""`` (the one on this computer), or a
    ``ws://``/``wss://`` URL (``ws://`` added when the scheme is left out)."""
    text = text.strip()
    if not text:
        return ""
    if "://" not in text:
        text = f"ws://{text}"
    parsed = urlparse(text)
    if parsed.scheme not in ("ws", "wss"):
        raise FormProblem(tr(
            "The server address must start with ws:// or wss://, like ws://192.168.1.20:8765 "
            "or wss://teach.example-hospital.cn (not {scheme}://).", scheme=parsed.scheme))
    try:
        port = parsed.port
    except ValueError:
        port = -1
    if not parsed.hostname or port == -1:
        raise FormProblem(tr(
            "“{address}” is not a server address. Write it like ws://192.168.1.20:8765.",
            address=text))
    return text


def display_name(text: str) -> str:
    """Your name as others will see it; the protocol's limit is checked here."""
    name = text.strip()
    if not name:
        raise FormProblem(tr("Enter your name so others know who is speaking."))
    if len(name) > MAX_NAME_CHARS:
        raise FormProblem(tr_n(
            "Your name is {n} character long; the limit is {limit}. Shorten it, for "
            "example without the hospital's name.",
            "Your name is {n} characters long; the limit is {limit}. Shorten it, for "
            "example without the hospital's name.", len(name), limit=MAX_NAME_CHARS))
    if not name.isprintable():
        raise FormProblem(tr("Your name contains an invisible character; type it again."))
    return name


def room_name(text: str) -> str:
    """The room (case) name, by the protocol's rules."""
    room = text.strip()
    if not room:
        raise FormProblem(tr("Enter the room name of the case."))
    if len(room) > MAX_ROOM_CHARS:
        raise FormProblem(tr_n("The room name is {n} character long; the limit is {limit}.",
                               "The room name is {n} characters long; the limit is {limit}.",
                               len(room), limit=MAX_ROOM_CHARS))
    try:
        check_room(room)
    except ProtocolError:
        raise FormProblem(tr(
            "A room name may contain only Latin letters, digits, '.', '_' and '-', without "
            "spaces, for example chole-2026-11-25.")) from None
    return room


def chosen_role(value: object) -> Role:
    """The role picked in the list; nobody is a surgeon by default."""
    if value is None or value == "":
        raise FormProblem(tr("Choose your role: surgeon, mentor, trainee or student."))
    return Role(str(value))


def sends_video(role: Role | None) -> bool:
    """Whether ``role`` sends video (only they are offered sources)."""
    return role in (Role.SURGEON, Role.MENTOR)


def first_run_help(server: str, room: str) -> str:
    """What the lobby says under the server field: how a second person joins."""
    if server.strip():
        return ""
    text = tr("Empty: this computer runs the server ({url}). To join the same case from a "
              "second window on this computer, start the client again, leave the server "
              "empty and enter the same room. Other computers cannot reach it: start a "
              "signaling server on the network (python -m signaling_server) and give them "
              "its address.", url=local_url(LOCAL_PORT))
    if room.strip() == "demo":
        text += "\n" + tr("Room demo is for trying things out: join it as the surgeon with "
                          "the synthetic test picture, and as a trainee in a second window.")
    return text
