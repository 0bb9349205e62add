"""Signaling server for surgery_teach: rooms, presence and offer/answer relay over websockets.

Run it with ``python -m signaling_server``; embed it (the client app and the tests do) with
:func:`start_server`. With a token secret it admits only holders of signed room tokens
(``python -m signaling_server token`` makes them); without one it runs open, on a loopback
address only. The wire format is in docs/protocol.md.
"""

from __future__ import annotations

from signaling_server.server import RunningServer, ServerConfig, start_server

__all__ = ["RunningServer", "ServerConfig", "start_server"]
