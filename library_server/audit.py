"""The library's audit log: one JSON line per publish, view and refusal.

Each line has the same keys in the same order (``null`` where unknown): ``time`` (UTC, ISO
8601), ``event`` (``publish``, ``view``, ``edit``, ``denial``, ``auth-failure``), ``outcome``,
``case``, ``user`` (the token's ``sub``), ``name``, ``role``, ``address``, ``status``.
A ``view`` is written when someone opens a case (its manifest, events, chapters or media:
outcome ``opened``) or plays a clip a mentor added to it (``clip``), at most once per
person, case and outcome every :data:`VIEW_EVERY` seconds, so that the range
requests of one viewing do not flood it. Lines never carry tokens or case contents.
Each line is flushed at once, so the file is complete up to a kill.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Final, TextIO

from surgery_teach.errors import ConfigError

logger = logging.getLogger("library_server")

VIEW_EVERY: Final = 600.0


class AuditEvent(StrEnum):
    PUBLISH = "publish"  # outcome: stored, already-stored, refused (with status)
    VIEW = "view"
    EDIT = "edit"  # a mentor changed a stored case's chapters (outcome: chapters)
    DENIAL = "denial"  # a valid token asked for something it may not (403, 404)
    AUTH_FAILURE = "auth-failure"  # no valid token (401)


@dataclass(frozen=True, kw_only=True)
class AuditRecord:
    event: AuditEvent
    outcome: str
    case: str | None = None
    user: str | None = None
    name: str | None = None
    role: str | None = None
    address: str | None = None
    status: int | None = None


def audit_line(record: AuditRecord, time_: datetime) -> str:
    stamp = time_.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    fields = {"time": stamp, **asdict(record)}
    fields["event"] = record.event.value
    return json.dumps(fields, ensure_ascii=False, separators=(",", ":"))


class AuditLog:
    """An append-only audit file."""

    def __init__(self, path: Path) -> None:
        try:
            self._file: TextIO | None = open(path, "a", encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"cannot open the audit log {path}: {exc.strerror or exc}") from exc
        self._viewed: dict[tuple[str, str, str], float] = {}

    def write(self, record: AuditRecord) -> None:
        if self._file is None:
            return
        try:
            self._file.write(audit_line(record, datetime.now(UTC)) + "\n")
            self._file.flush()
        except OSError as exc:  # a full disk must not stop the library serving
            logger.warning("cannot write the audit log: %s", exc)

    def view(self, record: AuditRecord) -> None:
        """Write a ``view`` unless this person viewed this case within :data:`VIEW_EVERY`
        (the recording, ``opened``, and its clips, ``clip``, count apart)."""
        key = (record.user or "", record.case or "", record.outcome)
        now = time.monotonic()
        if now - self._viewed.get(key, -VIEW_EVERY - 1) < VIEW_EVERY:
            return
        self._viewed[key] = now
        if len(self._viewed) > 100_000:
            self._viewed = {k: t for k, t in self._viewed.items() if now - t < VIEW_EVERY}
        self.write(record)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
