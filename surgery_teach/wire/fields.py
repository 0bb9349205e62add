"""Value rules and typed JSON reads shared by every signaling message.

The limits here are part of protocol v1 (docs/protocol.md lists them). Each rule raises
:class:`~surgery_teach.errors.ProtocolError` with code ``bad-message`` and a message that
names the field, so a client author can see what to change.
"""

from __future__ import annotations

import json
import math
import re
import unicodedata
from collections.abc import Callable, Collection
from enum import StrEnum
from typing import Any, Final, NoReturn, TypeAlias, TypeVar

from surgery_teach.errors import ProtocolError

MAX_MESSAGE_BYTES: Final = 256 * 1024
"""Largest accepted client message (UTF-8 bytes); larger ones get a ``too-large`` error."""
MAX_SDP_BYTES: Final = 128 * 1024
MAX_TRACKS: Final = 16
MAX_ROOM_CHARS: Final = 64
MAX_NAME_CHARS: Final = 64
MAX_LABEL_CHARS: Final = 64
MAX_ID_CHARS: Final = 64
"""Longest participant id, track id, message ``id`` and ``sdpMid``."""
MAX_SOURCE_CHARS: Final = 256
MAX_CANDIDATE_CHARS: Final = 4096
MAX_USERNAME_FRAGMENT_CHARS: Final = 256
MAX_VIDEO_TRACKS: Final = 8
"""Most video tracks one participant may announce in ``publishes``."""
MAX_CHAT_CHARS: Final = 2000
"""Longest chat message, in characters after trimming."""
MAX_MLINE_INDEX: Final = 65535
MAX_SAFE_INTEGER: Final = 2**53 - 1
"""Integer ids must survive a round trip through a JavaScript number."""

_ROOM_PATTERN = re.compile(r"[A-Za-z0-9._-]+")
_FIELD = "field '"

T = TypeVar("T")


class ErrorCode(StrEnum):
    """Machine-readable ``code`` of an ``error`` message."""

    BAD_JSON = "bad-json"
    BAD_MESSAGE = "bad-message"
    UNKNOWN_TYPE = "unknown-type"
    UNSUPPORTED_VERSION = "unsupported-version"
    TOO_LARGE = "too-large"
    NOT_JOINED = "not-joined"
    ALREADY_JOINED = "already-joined"
    UNKNOWN_PARTICIPANT = "unknown-participant"
    ROOM_FULL = "room-full"
    NOT_ALLOWED = "not-allowed"
    FORBIDDEN = "forbidden"
    """The sender's role may not do this (surgery_teach.protocol.roles)."""
    BAD_ANNOTATION = "bad-annotation"
    RATE_LIMITED = "rate-limited"
    REMOVED = "removed"
    BOARD_FULL = "board-full"
    """The board of the room is at one of its limits (docs/protocol.md, section 9)."""
    NOTHING_TO_UNDO = "nothing-to-undo"
    SERVER_FULL = "server-full"
    """The server holds as many rooms as it may; a new one cannot be made now."""
    UNKNOWN_SHARE = "unknown-share"
    """A share chunk, ``share-resume`` or ``share-stop`` names a share the server does
    not hold (or no longer: it was stopped)."""


MessageRef: TypeAlias = str | int | None
"""A client message's optional ``id``, echoed as ``ref`` in an error reply."""


def show(value: object) -> str:
    """A short rendering of a rejected value for an error message (repr escapes controls)."""
    if isinstance(value, str) and len(value) > 40:
        return repr(value[:40]) + "…"
    text = repr(value)
    return text if len(text) <= 48 else text[:48] + "…"


def json_kind(value: object) -> str:
    """Describe a JSON value the way a client author thinks of it."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return f"the number {show(value)}"
    if isinstance(value, str):
        return f"the string {show(value)}"
    if isinstance(value, list):
        return "an array"
    return "an object"


def bad(field: str, problem: str) -> ProtocolError:
    """A ``bad-message`` error about one field."""
    return ProtocolError(ErrorCode.BAD_MESSAGE, f"{_FIELD}{field}' {problem}")


def check_text(value: str, field: str, max_chars: int, *, allow_empty: bool = False) -> None:
    if not isinstance(value, str):
        raise bad(field, f"must be a string (got {json_kind(value)})")
    if not allow_empty and not value:
        raise bad(field, "must not be empty")
    if len(value) > max_chars:
        raise bad(field, f"is {len(value)} characters long; the limit is {max_chars}")


def check_room(room: str, field: str = "room") -> None:
    check_text(room, field, MAX_ROOM_CHARS)
    if not _ROOM_PATTERN.fullmatch(room):
        raise bad(
            field,
            f"may contain only letters A-Z a-z, digits, '.', '_' and '-' (got {show(room)}); "
            "use a name like 'chole-2026-11-25'",
        )


_CLIENT_KEY_PATTERN: Final = re.compile(r"[A-Za-z0-9_-]{16,64}")


def check_client_key(key: object, field: str = "client_key") -> None:
    """A join's ``client_key``: 16-64 of ``A-Z a-z 0-9 _ -`` (a random, secret key)."""
    if not isinstance(key, str) or not _CLIENT_KEY_PATTERN.fullmatch(key):
        raise bad(
            field,
            f"must be 16 to 64 letters, digits, '_' or '-' (got {show(key)}); make it once "
            "per session from a secure random source, e.g. 32 url-safe characters",
        )


def clean_label(value: str, field: str, max_chars: int) -> str:
    """Trim a human-readable name and check it is 1..max_chars printable characters."""
    if not isinstance(value, str):
        raise bad(field, f"must be a string (got {json_kind(value)})")
    trimmed = value.strip()
    if not trimmed:
        raise bad(field, "must contain at least one visible character")
    check_text(trimmed, field, max_chars)
    if not trimmed.isprintable():
        raise bad(field, f"contains a control or invisible character (got {show(trimmed)})")
    return trimmed


_CONTROL_NAMES: Final = {"\t": "tab", "\r": "carriage return", "\x00": "NUL"}


def clean_chat_text(value: object, field: str, max_chars: int) -> str:
    """Trim a chat message and check it is 1..max_chars characters without control characters.

    Chat is free text: any Unicode is kept (emoji joiners, right-to-left marks), and line
    breaks (``\\n``) are allowed inside it. Only control characters (category Cc) other than
    the line feed are refused. Errors never quote the text: chat is not to be logged.
    """
    if not isinstance(value, str):
        raise bad(field, f"must be a string (got {json_kind(value)})")
    check_utf8(value, field)
    trimmed = value.strip()
    if not trimmed:
        raise bad(field, "must contain at least one visible character")
    check_text(trimmed, field, max_chars)
    offset = len(value) - len(value.lstrip())
    for index, char in enumerate(trimmed):
        if char != "\n" and unicodedata.category(char) == "Cc":
            what = f"U+{ord(char):04X}"
            if char in _CONTROL_NAMES:
                what += f" ({_CONTROL_NAMES[char]})"
            raise bad(
                field,
                f"contains the control character {what} at character {offset + index + 1}; "
                "only line breaks (\\n) are allowed",
            )
    return trimmed


def check_sdp(sdp: str, field: str = "sdp") -> None:
    check_text(sdp, field, MAX_SDP_BYTES * 4)  # type and emptiness; the limit is in bytes
    size = len(sdp.encode("utf-8"))
    if size > MAX_SDP_BYTES:
        raise bad(field, f"is {size} bytes; the limit is {MAX_SDP_BYTES} bytes")


def check_ref(ref: object, field: str = "id") -> None:
    """A message ``id``: None, a string of 1..64 characters or a JS-safe integer."""
    if ref is None:
        return
    if isinstance(ref, bool) or not isinstance(ref, str | int):
        raise bad(field, f"must be a string or an integer (got {json_kind(ref)})")
    if isinstance(ref, str):
        check_text(ref, field, MAX_ID_CHARS)
        check_utf8(ref, field)
    elif abs(ref) > MAX_SAFE_INTEGER:
        raise bad(field, f"must be between -{MAX_SAFE_INTEGER} and {MAX_SAFE_INTEGER}")


def check_utf8(value: str, field: str) -> None:
    """Reject lone UTF-16 surrogates (legal as JSON escapes, impossible to send as UTF-8)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise bad(field, "contains an unpaired UTF-16 surrogate (\\ud800-\\udfff)") from None


def _reject_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj: dict[str, Any] = {}
    for key, value in pairs:
        if key in obj:
            raise bad(key, "appears twice in one object; send each field once")
        obj[key] = value
    return obj


def _reject_constant(name: str) -> NoReturn:
    raise ProtocolError(ErrorCode.BAD_JSON, f"{name} is not valid JSON; send finite numbers")


def load_json(text: str) -> object:
    """Decode strict JSON: no NaN/Infinity, no duplicate keys, bounded nesting."""
    try:
        return json.loads(
            text, object_pairs_hook=_reject_duplicates, parse_constant=_reject_constant
        )
    except RecursionError:
        raise ProtocolError(
            ErrorCode.BAD_JSON, "the JSON is nested too deeply; send a flat message object"
        ) from None
    except ValueError as exc:  # json.JSONDecodeError, or an integer with too many digits
        raise ProtocolError(
            ErrorCode.BAD_JSON,
            f"the message is not valid JSON ({exc}); send one JSON object per text frame, "
            'like {"v":1,"type":"ping"}',
        ) from None


class JsonObject:
    """Typed, path-aware reads from one decoded JSON object.

    With ``strict`` every field outside ``allowed`` is rejected (what the server demands
    of clients); without it unknown fields are ignored (what clients do with the server).
    """

    def __init__(
        self, value: object, path: str, allowed: Collection[str], *, strict: bool, what: str
    ) -> None:
        if not isinstance(value, dict):
            raise bad(path, f"must be a JSON object (got {json_kind(value)})")
        self.raw: dict[str, Any] = value
        self._prefix = f"{path}." if path else ""
        self._what = what
        if strict:
            for key in value:
                if key not in allowed:
                    raise ProtocolError(
                        ErrorCode.BAD_MESSAGE,
                        f"unknown field {self.path(key)!r} in {what}; remove it "
                        f"(allowed: {', '.join(sorted(allowed))})",
                    )

    def path(self, key: str) -> str:
        return self._prefix + key

    def value(self, key: str) -> object:
        """A required field of any JSON type."""
        if key not in self.raw:
            raise bad(self.path(key), f"is missing; {self._what} needs it")
        return self.raw[key]

    def _wrong(self, key: str, expected: str, value: object) -> NoReturn:
        raise bad(self.path(key), f"must be {expected} (got {json_kind(value)})")

    def text(self, key: str, *, default: str | None = None) -> str:
        """A string field; ``default`` makes it optional."""
        value = self.value(key) if default is None else self.raw.get(key, default)
        if not isinstance(value, str):
            self._wrong(key, "a string", value)
        check_utf8(value, self.path(key))
        return value

    def nullable_text(self, key: str) -> str | None:
        """A string field that may be null or absent."""
        return None if self.raw.get(key) is None else self.text(key)

    def integer(self, key: str, *, default: int | None = None) -> int:
        """An integer field; ``default`` makes it optional."""
        value = self.value(key) if default is None else self.raw.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int):
            self._wrong(key, "an integer", value)
        return value

    def boolean(self, key: str, *, default: bool | None = None) -> bool:
        """A ``true``/``false`` field; ``default`` makes it optional."""
        value = self.value(key) if default is None else self.raw.get(key, default)
        if not isinstance(value, bool):
            self._wrong(key, "true or false", value)
        return value

    def nullable_integer(self, key: str) -> int | None:
        """An integer field that may be null or absent."""
        return None if self.raw.get(key) is None else self.integer(key)

    def number(self, key: str) -> float:
        value = self.value(key)
        if isinstance(value, bool) or not isinstance(value, int | float):
            self._wrong(key, "a number", value)
        if not math.isfinite(value):
            self._wrong(key, "a finite number", value)
        return float(value)

    def array(self, key: str, *, optional: bool = False) -> list[object]:
        """An array field; ``optional`` reads an absent one as empty."""
        value = self.raw.get(key, []) if optional else self.value(key)
        if not isinstance(value, list):
            self._wrong(key, "an array", value)
        return value

    def ref(self, key: str = "id") -> MessageRef:
        value = self.raw.get(key)
        check_ref(value, self.path(key))
        return value  # check_ref accepted it

    def build(self, factory: Callable[..., T], **kwargs: Any) -> T:
        """``factory(**kwargs)``, its field errors renamed with this object's path.

        The message classes check their own values (so code that builds them fails early)
        and know only their own field names; this puts ``data.tracks[0].`` in front.
        """
        try:
            return factory(**kwargs)
        except ProtocolError as exc:
            if self._prefix and exc.message.startswith(_FIELD):
                renamed = _FIELD + self._prefix + exc.message[len(_FIELD) :]
                raise ProtocolError(exc.code, renamed) from None
            raise
