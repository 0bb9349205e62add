"""Errors the lobby and the library meet, as one plain sentence with the fix, translated.

The core's errors are English sentences for logs and the command line. Here they are
recognised by their class and by the library error they were raised from (``__cause__``:
a refused connection, a timeout, an unknown host name, a TLS mismatch...), so the user
reads "Cannot reach the server at ws://… — check the address or start the server" in
their language instead of ``[Errno 111] Connect call failed``. A join the server refused
carries its error ``code``, said by :mod:`ui.common.server_words`. What cannot be
recognised keeps the core's sentence behind a translated lead-in.
"""

from __future__ import annotations

import socket
import ssl

import websockets

from surgery_teach.errors import (
    AudioDeviceError,
    CaptureDeviceError,
    NotAdmittedError,
    SignalingError,
)
from ui.common.server_words import refusal_text
from ui.i18n import tr


def explain_join_error(exc: BaseException, *, server: str, room: str) -> str:
    """Why joining ``room`` on ``server`` failed, and what to do about it."""
    if isinstance(exc, NotAdmittedError):
        return _not_admitted(exc, room)
    if isinstance(exc, CaptureDeviceError):
        return tr("Cannot open the camera {device}. Cameras found: {found}. Check the cable "
                  "and that no other program uses it, or choose another video source.",
                  device=exc.device, found=_found(exc.available))
    if isinstance(exc, AudioDeviceError):
        return tr("Cannot open the sound device {device}. Devices found: {found}. Check that "
                  "the headset is plugged in, or choose another one under Devices….",
                  device=exc.device, found=_found(exc.available))
    if isinstance(exc, SignalingError):
        return _signaling(exc, server, room)
    return tr("Could not join the case: {detail}", detail=str(exc))


def _found(available: list[str]) -> str:
    return ", ".join(available) if available else tr("none")


def _not_admitted(exc: NotAdmittedError, room: str) -> str:
    if exc.code:  # a join the server refused, by code
        return refusal_text(exc.code, str(exc), room=room)
    if exc.status == 401:
        return tr("The server needs a valid room token, and yours is missing, expired or "
                  "not valid. Ask the case organiser for a new token.")
    if exc.status == 403:
        return tr("The server refused this token for room {room}: it is for another case, "
                  "or you were removed from this one.", room=room)
    return tr("The server did not let you into room {room}. Ask the case organiser to "
              "admit you, or check the room name.", room=room)


def _signaling(exc: SignalingError, server: str, room: str) -> str:
    cause = exc.__cause__
    text = str(exc)
    if exc.code:  # the server refused the join, and said why by code
        return refusal_text(exc.code, text, room=room)
    if isinstance(cause, websockets.InvalidStatus):
        if cause.response.status_code == 429:
            return tr("Too many connections from this computer to the server. Close other "
                      "copies of the client, then try again.")
        return tr("The server at {url} refused the connection (HTTP {status}). Check the "
                  "address.", url=server, status=cause.response.status_code)
    if isinstance(cause, ssl.SSLCertVerificationError):
        return tr("This computer does not trust the certificate of the server at {url}. "
                  "Choose the hospital's CA certificate under Advanced, or check the "
                  "address.", url=server)
    if isinstance(cause, websockets.InvalidMessage) and server.startswith("ws://"):
        return tr("The server at {url} did not answer like a signaling server. If it uses "
                  "TLS, write wss:// instead of ws://; otherwise check the port.", url=server)
    if isinstance(cause, ssl.SSLError | ConnectionResetError) and server.startswith("wss://"):
        return tr("The server at {url} does not speak TLS. Write ws:// instead of wss://.",
                  url=server)
    if isinstance(cause, socket.gaierror):
        return tr("The computer name in {url} is not known. Check the address (for example "
                  "ws://192.168.1.20:8765).", url=server)
    if isinstance(cause, TimeoutError):
        return tr("The server at {url} did not answer in time. Check the address and the "
                  "network, or start the server.", url=server)
    if isinstance(cause, OSError | websockets.InvalidHandshake):
        return tr("Cannot reach the server at {url} — check the address or start the "
                  "server.", url=server)
    return tr("Could not join the case: {detail}", detail=text)
