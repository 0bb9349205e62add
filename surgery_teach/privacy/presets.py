"""Mask presets for the places towers usually burn patient data into the picture.

Most laparoscopic towers write the patient's name, ID, age and the date in a band along
the top or the bottom edge, or in the corners. A preset is a starting point the surgeon
then adjusts on the live preview; the CLI takes a preset's name wherever it takes a
rectangle (``--mask "Laparoscope=top-band"``).
"""

from __future__ import annotations

from typing import Final

from surgery_teach.errors import ConfigError
from surgery_teach.privacy.masks import Mask, MaskStyle

BAND: Final = 0.12
"""Height of a top or bottom band, as a fraction of the picture."""
CORNER: Final = (0.3, 0.15)
"""Width and height of a corner box."""


def _corners(*which: str) -> tuple[Mask, ...]:
    w, h = CORNER
    spots = {"top-left": (0.0, 0.0), "top-right": (1 - w, 0.0),
             "bottom-left": (0.0, 1 - h), "bottom-right": (1 - w, 1 - h)}
    return tuple(Mask(*spots[name], w, h) for name in which)


PRESETS: Final[dict[str, tuple[Mask, ...]]] = {
    "top-band": (Mask(0.0, 0.0, 1.0, BAND),),
    "bottom-band": (Mask(0.0, 1 - BAND, 1.0, BAND),),
    "top-and-bottom": (Mask(0.0, 0.0, 1.0, BAND), Mask(0.0, 1 - BAND, 1.0, BAND)),
    "corners": _corners("top-left", "top-right", "bottom-left", "bottom-right"),
    "top-corners": _corners("top-left", "top-right"),
    "bottom-corners": _corners("bottom-left", "bottom-right"),
    "top-left": _corners("top-left"),
    "top-right": _corners("top-right"),
    "bottom-left": _corners("bottom-left"),
    "bottom-right": _corners("bottom-right"),
}
"""Every preset by name, in the order a menu shows them."""


def preset(name: str, style: MaskStyle = MaskStyle.BLACK) -> tuple[Mask, ...]:
    """The masks of preset ``name`` painted in ``style``; :class:`ConfigError` naming the
    presets if there is no such preset."""
    masks = PRESETS.get(name.strip().lower())
    if masks is None:
        raise ConfigError(f"there is no mask preset {name!r}; use one of {', '.join(PRESETS)} "
                          "or a rectangle x,y,w,h")
    return tuple(Mask(m.x, m.y, m.w, m.h, style) for m in masks)
