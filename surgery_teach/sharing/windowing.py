"""Window and level: which range of a DICOM image's values is spread over black to white.

The presets are the usual CT windows in Hounsfield units. ``file`` is the window the
file itself recommends (Window Center/Width); ``full`` spreads the slice's whole range.
The mapping is the standard's linear VOI function (PS3.3 C.11.2.1.2).
"""

from __future__ import annotations

from typing import Final

import numpy as np

from surgery_teach.errors import UnsupportedShareError
from surgery_teach.sharing.picture import Window

#: CT presets: name -> (center, width) in Hounsfield units.
PRESETS: Final[dict[str, tuple[float, float]]] = {
    "soft-tissue": (40.0, 400.0),
    "lung": (-600.0, 1500.0),
    "bone": (400.0, 1800.0),
    "brain": (40.0, 80.0),
    "mediastinum": (50.0, 350.0),
}
FILE: Final = "file"
FULL: Final = "full"
WINDOW_NAMES: Final = (FILE, FULL, *PRESETS)


def choose_window(name: str, values: np.ndarray, file_window: tuple[float, float] | None,
                  *, center: float | None = None, width: float | None = None) -> Window:
    """The window called ``name`` for an image of modality ``values``.

    ``file`` falls back to ``full`` when the file recommends none. Giving ``center`` and
    ``width`` makes a custom window (the sharer dragged the level).
    """
    if center is not None and width is not None:
        if not width >= 1:
            raise UnsupportedShareError(f"window width {width:g} is too small: use 1 or more.")
        return Window(float(center), float(width), "custom")
    if name == FILE and file_window is not None and file_window[1] >= 1:
        return Window(file_window[0], file_window[1], FILE)
    if name in (FILE, FULL):
        low, high = float(np.min(values)), float(np.max(values))
        width = max(high - low + 1.0, 1.0)
        return Window(low + width / 2, width, FULL)  # low -> 0, high -> 255 exactly
    if name in PRESETS:
        return Window(*PRESETS[name], name)
    raise UnsupportedShareError(
        f"unknown window {name!r}: use one of {', '.join(WINDOW_NAMES)}.")


def apply_window(values: np.ndarray, window: Window, *, invert: bool = False) -> np.ndarray:
    """8-bit grey pixels of ``values`` through ``window`` (``invert`` for MONOCHROME1,
    where the lowest value is white)."""
    c, w = window.center, window.width
    if w <= 1:
        out = np.where(values > c - 0.5, 255.0, 0.0)
    else:
        out = ((values.astype(np.float64) - (c - 0.5)) / (w - 1) + 0.5) * 255.0
    grey = np.clip(out + 0.5, 0, 255).astype(np.uint8)
    return 255 - grey if invert else grey
