"""The audit log: who came, went, was removed or turned away, one JSON line each.

``--audit-log PATH`` appends one JSON object per line and flushes it at once, so the file
is complete up to the last event even if the server is killed. Every line has the same
keys, in the same order (``null`` where a value is unknown): ``time`` (UTC, ISO 8601),
``event``, ``outcome``, ``action`` (the message type a denial refused), ``room``,
``role``, ``name``, ``participant``, ``user`` (the token's ``sub``), ``by`` (who removed
them), ``address`` and ``status`` (the HTTP status of a refused handshake). Lines never
carry tokens, SDP, ICE candidates or chat text; they do carry display names, so keep the
file as private as the session itself.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import TextIO

from surgery_teach.errors import ConfigError

logger = logging.getLogger("signaling_server")


class AuditEvent(StrEnum):
    """What happened."""

    JOIN = "join"
    LEAVE = "leave"
    """Left the room: ``outcome`` is ``leave``, ``disconnect`` or ``removed``."""
    REMOVAL = "removal"
    """A mentor (``by``) removed a participant."""
    DENIAL = "denial"
    """A handshake refused with 403 or 429 (or 400), a ``join`` refused, or a message the
    sender's role may not send (``forbidden``; ``action`` names its type)."""
    AUTH_FAILURE = "auth-failure"
    """A handshake refused with 401: no valid token."""
    RECORDING = "recording"
    """A participant started (``outcome`` ``start``) or stopped (``stop``) recording the
    session, or stopped by leaving the room while recording (``left``)."""
    CLOSE = "close"
    """The server closed a connection for breaking a limit (``idle``, ``too-slow``,
    ``flooding``)."""
    PRIVACY = "privacy"
    """A surgeon or mentor paused their video for privacy (``outcome`` ``paused``) or
    resumed it (``resumed``)."""


@dataclass(frozen=True, kw_only=True)
class AuditRecord:
    """One line of the audit log, without its time."""

    event: AuditEvent
    outcome: str
    action: str | None = None
    room: str | None = None
    role: str | None = None
    name: str | None = None
    participant: str | None = None
    user: str | None = None
    by: str | None = None
    address: str | None = None
    status: int | None = None


def audit_line(record: AuditRecord, time: datetime) -> str:
    """The JSON line for ``record`` at ``time`` (without the newline)."""
    stamp = time.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    fields = {"time": stamp, **asdict(record)}
    fields["event"] = record.event.value
    return json.dumps(fields, ensure_ascii=False, separators=(",", ":"))


class AuditLog:
    """An append-only audit file; :meth:`write` is a no-op on :meth:`disabled`."""

    def __init__(self, file: TextIO | None) -> None:
        self._file = file

    @classmethod
    def disabled(cls) -> AuditLog:
        return cls(None)

    @classmethod
    def open(cls, path: Path) -> AuditLog:
        """Open ``path`` for appending (created if missing); ConfigError if it cannot be."""
        try:
            file = path.open("a", encoding="utf-8")
        except OSError as exc:
            raise ConfigError(
                f"cannot open the audit log {str(path)!r}: {exc.strerror or exc}; check "
                "--audit-log and that its directory exists and is writable"
            ) from exc
        return cls(file)

    def write(self, record: AuditRecord) -> None:
        """Append one line and flush it (a small write: done on the event loop)."""
        if self._file is None:
            return
        try:
            self._file.write(audit_line(record, datetime.now(UTC)) + "\n")
            self._file.flush()
        except OSError as exc:  # a full disk must not stop the session
            logger.error("cannot write the audit log: %s", exc.strerror or exc)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
