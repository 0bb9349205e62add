"""Value rules shared by annotation shapes and operations.

Every rule raises :class:`~surgery_teach.errors.ProtocolError` with code ``bad-annotation``
and a message that starts ``field '<name>'``, so the wire parser can put the path of the
enclosing object in front (``shape.points[3][1]``) and a client author sees what to change.
"""

from __future__ import annotations

import math
import re
import unicodedata
from typing import Final, TypeAlias

from surgery_teach.errors import ProtocolError
from surgery_teach.wire.fields import MAX_ID_CHARS, MAX_SAFE_INTEGER, json_kind, show

BAD_ANNOTATION: Final = "bad-annotation"
"""The ``code`` of every ProtocolError about a malformed annotation."""

COORDINATE_TOLERANCE: Final = 1e-6
"""Coordinates this far outside 0..1 (rounding) are clamped to the edge; further is refused."""
MIN_WIDTH: Final = 0.001
MAX_WIDTH: Final = 0.05
"""Stroke width limits, as a fraction of the picture height."""
MAX_TEXT_CHARS: Final = 200

Point: TypeAlias = tuple[float, float]
"""``(x, y)`` as fractions of the source picture: (0, 0) top left, (1, 1) bottom right."""

_COLOUR: Final = re.compile(r"#[0-9A-Fa-f]{6}")


def bad(field: str, problem: str) -> ProtocolError:
    """A ``bad-annotation`` error about one field."""
    return ProtocolError(BAD_ANNOTATION, f"field '{field}' {problem}")


def number(value: object, field: str) -> float:
    """A finite JSON number (not a boolean), as a float."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise bad(field, f"must be a number (got {json_kind(value)})")
    if not math.isfinite(value):
        raise bad(field, f"must be a finite number (got {show(value)})")
    return float(value)


def timestamp(value: object, field: str) -> float:
    """A time in seconds: finite and not negative."""
    seconds = number(value, field)
    if seconds < 0:
        raise bad(field, f"must not be negative (got {show(value)})")
    return seconds


def coordinate(value: object, field: str) -> float:
    """One coordinate in 0..1; values within :data:`COORDINATE_TOLERANCE` are clamped."""
    x = number(value, field)
    if -COORDINATE_TOLERANCE <= x < 0.0:
        return 0.0
    if 1.0 < x <= 1.0 + COORDINATE_TOLERANCE:
        return 1.0
    if not 0.0 <= x <= 1.0:
        raise bad(
            field,
            f"must be from 0 to 1, a fraction of the picture (got {show(value)}); "
            "clamp points dragged past the edge of the video",
        )
    return x


def point(value: object, field: str) -> Point:
    """An ``(x, y)`` pair of coordinates."""
    if not isinstance(value, tuple | list) or len(value) != 2:
        raise bad(field, f"must be a point [x, y] (got {json_kind(value)})")
    return (coordinate(value[0], f"{field}[0]"), coordinate(value[1], f"{field}[1]"))


def label(value: object, field: str, max_chars: int = MAX_ID_CHARS) -> str:
    """An id, author or source: 1..max_chars printable characters."""
    if not isinstance(value, str):
        raise bad(field, f"must be a string (got {json_kind(value)})")
    if not value:
        raise bad(field, "must not be empty")
    if len(value) > max_chars:
        raise bad(field, f"is {len(value)} characters long; the limit is {max_chars}")
    if not value.isprintable():
        raise bad(field, f"contains a control or invisible character (got {show(value)})")
    return value


def colour(value: object, field: str = "colour") -> str:
    """A ``#rrggbb`` colour, returned in lower case."""
    if not isinstance(value, str) or not _COLOUR.fullmatch(value):
        raise bad(field, f"must be a colour like '#ff0000' (got {json_kind(value)})")
    return value.lower()


def width(value: object, field: str = "width") -> float:
    """A stroke width as a fraction of the picture height."""
    w = number(value, field)
    if not MIN_WIDTH <= w <= MAX_WIDTH:
        raise bad(
            field,
            f"must be from {MIN_WIDTH} to {MAX_WIDTH} of the picture height (got {show(value)})",
        )
    return w


def boolean(value: object, field: str) -> bool:
    if not isinstance(value, bool):
        raise bad(field, f"must be true or false (got {json_kind(value)})")
    return value


def seq(value: object, field: str = "seq") -> int:
    """A server sequence number: 0 (not yet assigned) or a JS-safe positive integer."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise bad(field, f"must be an integer (got {json_kind(value)})")
    if not 0 <= value <= MAX_SAFE_INTEGER:
        raise bad(field, f"must be from 0 to {MAX_SAFE_INTEGER} (got {show(value)})")
    return value


def text(value: object, field: str = "text") -> str:
    """Label text: 1..200 characters of any Unicode, one line, not only spaces.

    Control characters (line breaks and tabs too) are refused: a label is one line drawn
    on the picture. Errors never quote the text, which may describe the patient.
    """
    if not isinstance(value, str):
        raise bad(field, f"must be a string (got {json_kind(value)})")
    if len(value) > MAX_TEXT_CHARS:
        raise bad(field, f"is {len(value)} characters long; the limit is {MAX_TEXT_CHARS}")
    if not value.strip():
        raise bad(field, "must contain at least one visible character")
    for index, char in enumerate(value):
        category = unicodedata.category(char)
        if category == "Cc":
            raise bad(
                field,
                f"contains the control character U+{ord(char):04X} at character {index + 1}; "
                "a label is one line",
            )
        if category == "Cs":
            raise bad(field, "contains an unpaired UTF-16 surrogate (\\ud800-\\udfff)")
    return value
