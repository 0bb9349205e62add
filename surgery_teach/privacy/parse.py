"""The text form of masks the CLI takes: ``--mask "Laparoscope=x,y,w,h"`` (repeatable).

Accepted forms (see :data:`MASK_FORMS`)::

    Laparoscope=0,0,1,0.12          a rectangle: x, y, width, height as fractions 0..1
    Laparoscope=0,0.88,1,0.12,blur  the same, blurred instead of painted black
    Laparoscope=top-band            a preset (top-band, bottom-band, corners, ...)
    Left camera=corners,grey        labels may contain spaces
    0,0,1,0.12                      no label: every source

Parsing is pure; :func:`masks_for_sources` matches the labels to the sources opened.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from surgery_teach.errors import ConfigError
from surgery_teach.privacy.masks import Mask, MaskStyle
from surgery_teach.privacy.presets import PRESETS, preset

MASK_FORMS = f"""\
accepted mask forms (--mask, repeat it for several rectangles or sources):
  LABEL=X,Y,W,H[,STYLE]    a rectangle as fractions of the picture, e.g.
                           "Laparoscope=0,0,1,0.12" (the top 12%)
  LABEL=PRESET[,STYLE]     one of {", ".join(PRESETS)}
  X,Y,W,H or PRESET        without LABEL=: every source
  STYLE is {", ".join(s.value for s in MaskStyle)} (default black); LABEL is the source's
  label as in --source LABEL=SPEC"""


@dataclass(frozen=True)
class MaskOption:
    """One ``--mask``: the source label it names (``None``: every source) and its masks."""

    label: str | None
    masks: tuple[Mask, ...]


def parse_mask_option(text: str) -> MaskOption:
    """Parse one ``--mask`` value; :class:`ConfigError` naming the problem and the forms."""
    if not isinstance(text, str) or not text.strip():
        raise _malformed(str(text), "it is empty")
    label: str | None = None
    body = text.strip()
    if "=" in body:
        label, _, body = body.rpartition("=")
        label, body = label.strip(), body.strip()
        if not label:
            raise _malformed(text, "the source label before '=' is empty")
        if not body:
            raise _malformed(text, "nothing follows the '='")
    parts = [part.strip() for part in body.split(",")]
    style = MaskStyle.BLACK
    if parts and parts[-1].lower() in {s.value for s in MaskStyle} | {"gray"}:
        word = parts.pop().lower()
        style = MaskStyle.GREY if word == "gray" else MaskStyle(word)
    if len(parts) == 1:
        if parts[0].lower() not in PRESETS:
            raise _malformed(text, f"{parts[0]!r} is neither a preset nor a rectangle x,y,w,h")
        return MaskOption(label, preset(parts[0], style))
    if len(parts) != 4:
        raise _malformed(text, f"a rectangle has 4 numbers x,y,w,h, not {len(parts)}")
    try:
        values = [float(part) for part in parts]
    except ValueError:
        bad = next(p for p in parts if not _is_number(p))
        raise _malformed(text, f"{bad!r} is not a number") from None
    if any(v > 1 for v in values):
        raise _malformed(text, "the numbers are fractions of the picture from 0 to 1, not "
                               "pixels (0.1 is a tenth of the width or height)")
    try:
        return MaskOption(label, (Mask(*values, style=style),))
    except ConfigError as exc:
        raise _malformed(text, str(exc)) from None


def masks_for_sources(options: Iterable[MaskOption], labels: Sequence[str]
                      ) -> list[tuple[Mask, ...]]:
    """Each source's masks (in the order of ``labels``) from the ``--mask`` options.

    A label matches exactly, or else ignoring case; a label that names no source is a
    :class:`ConfigError` listing the sources there are.
    """
    result: list[list[Mask]] = [[] for _ in labels]
    for option in options:
        if option.label is None:
            for masks in result:
                masks.extend(option.masks)
            continue
        index = _find(option.label, labels)
        result[index].extend(option.masks)
    return [tuple(masks) for masks in result]


def _find(label: str, labels: Sequence[str]) -> int:
    if label in labels:
        return labels.index(label)
    folded = [known.casefold() for known in labels]
    if label.casefold() in folded:
        return folded.index(label.casefold())
    known = ", ".join(repr(name) for name in labels) or "none"
    raise ConfigError(
        f"--mask names the source {label!r}, but the sources are {known}; write the label "
        "exactly as in --source LABEL=SPEC (e.g. --source Laparoscope=camera:0 --mask "
        "\"Laparoscope=top-band\")")


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _malformed(text: str, reason: str) -> ConfigError:
    return ConfigError(f"bad --mask {text.strip()!r}: {reason}.\n{MASK_FORMS}")
