"""Patient privacy in the picture: masks over burned-in patient data, and the curtain.

- :mod:`.masks`: rectangles (fractions of the frame) painted solid or blurred;
  :mod:`.presets` for the usual tower layouts; :mod:`.parse` reads ``--mask``.
- :mod:`.guard`: :func:`protect` makes a source mask every frame once, as it is
  captured, before any consumer (encoders, preview, stills, recorder) sees it; it fails
  closed (a frame that cannot be masked is replaced by a card and the surgeon is told).
- :mod:`.curtain`: the privacy curtain, one switch that makes every protected source
  send the "video paused for privacy" card (:mod:`.card`) from the next frame.
- :mod:`.store`: masks remembered per device; :mod:`.console`: curtain commands typed on
  a headless publisher's standard input.

No Qt here: the desktop client draws masks and shows the curtain from these models.
"""

from __future__ import annotations

from surgery_teach.privacy.card import CardKind, CardPainter, card_image, card_kind
from surgery_teach.privacy.curtain import CurtainState, PrivacyCurtain
from surgery_teach.privacy.guard import (
    GuardStats,
    PrivacyGuard,
    PrivacyProblem,
    PrivateSlot,
    guard_of,
    protect,
)
from surgery_teach.privacy.masks import Mask, MaskStyle, apply_masks
from surgery_teach.privacy.parse import (
    MASK_FORMS,
    MaskOption,
    masks_for_sources,
    parse_mask_option,
)
from surgery_teach.privacy.presets import PRESETS, preset
from surgery_teach.privacy.store import MaskStore, device_key

__all__ = [
    "MASK_FORMS",
    "PRESETS",
    "CardKind",
    "CardPainter",
    "CurtainState",
    "GuardStats",
    "Mask",
    "MaskOption",
    "MaskStore",
    "MaskStyle",
    "PrivacyCurtain",
    "PrivacyGuard",
    "PrivacyProblem",
    "PrivateSlot",
    "apply_masks",
    "card_image",
    "card_kind",
    "device_key",
    "guard_of",
    "masks_for_sources",
    "parse_mask_option",
    "preset",
    "protect",
]
