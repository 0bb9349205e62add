"""The layers one video source is encoded at, best first: pure sizes and bitrates, no I/O.

Each published source is scaled once from the captured frame into up to three layers,
each encoded by its own shared encoder while someone receives it; every viewer gets the
best layer its path sustains (:mod:`.layer_choice`, :mod:`.uplink`).

How the default ladder is built (:func:`ladder_for`):

* The top layer is the source's own size. Each lower layer is the largest of the common
  heights (2160, 1440, 1080, 720, 540, 360, 180) at most 1/1.5 of the layer above, so
  1080p gives 1080/720/360 and 720p gives 720/360/180. Widths keep the source's aspect
  ratio, rounded to even pixels (H.264 4:2:0 needs even sizes). Nothing below 180 lines:
  a smaller source simply gets fewer layers.
* Bitrates follow one curve, bits ~ (pixels x frames per second) ** 0.85: x264 needs
  proportionally more bits per pixel for small pictures. The top layer is anchored at
  5 Mbit/s for 1080p30 (so 720p30 gets 2.5, as :func:`~.encoder.default_bitrate` gives),
  the lower layers at 0.6 of that curve (720p 1.5, 360p 0.45, 180p 0.15 Mbit/s): a lower
  layer is a fallback, and the ratio between neighbours (3x or more) makes a step down
  bring real relief to a link that is full.
* A lower layer never gets more than half the bitrate of the layer above, so a
  ``top_bitrate`` chosen lower than usual still leaves a meaningful ladder.

A viewer that cannot carry even the bottom layer gets it at a fraction of the frame rate
(:meth:`Layer.slowed`); its bitrate follows the same curve.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass

from surgery_teach.errors import ConfigError

COMMON_HEIGHTS = (2160, 1440, 1080, 720, 540, 360, 270, 180)
LAYER_RATIO = 1.5  # each lower layer has at most 1/1.5 the lines of the one above
MAX_LAYERS = 4
TOP_ANCHOR_BPS = 5_000_000  # 1920x1080 at 30 fps, the top of a ladder
LOWER_SHARE = 0.6  # lower layers get this share of the top-layer curve
CURVE_EXPONENT = 0.85
MIN_BITRATE = 30_000  # a slowed bottom layer (180p at 5 fps) may need so little
LOWEST_LAYER_BPS = 100_000  # no full-rate layer below this: EncoderSettings' floor
MAX_BITRATE = 50_000_000
ROUND_TO = 50_000  # default bitrates are rounded to 50 kbit/s (10 kbit/s when slowed)
_ANCHOR_PIXEL_RATE = 1920 * 1080 * 30


@dataclass(frozen=True)
class Layer:
    """One encoding of a source: ``width`` x ``height`` at ``bitrate`` bit/s, ``fps``."""

    name: str
    width: int
    height: int
    bitrate: int
    fps: float

    def __post_init__(self) -> None:
        for side in ("width", "height"):
            value = getattr(self, side)
            if value < 16 or value % 2:
                raise ConfigError(
                    f"layer {self.name}: {side} must be an even number of pixels >= 16, "
                    f"got {value}"
                )
        if not MIN_BITRATE <= self.bitrate <= MAX_BITRATE:
            raise ConfigError(
                f"layer {self.name}: bitrate must be {MIN_BITRATE // 1000} kbit/s to "
                f"{MAX_BITRATE // 1_000_000} Mbit/s, got {self.bitrate} bit/s"
            )
        if not 0 < self.fps <= 240:
            raise ConfigError(f"layer {self.name}: fps must be above 0 and at most 240, "
                              f"got {self.fps}")

    def slowed(self, divisor: int) -> Layer:
        """This layer at ``fps / divisor`` (every ``divisor``-th captured frame), with the
        bitrate the curve gives for it; ``slowed(1)`` is the layer itself."""
        if divisor < 1:
            raise ValueError(f"divisor must be >= 1, got {divisor}")
        if divisor == 1:
            return self
        bitrate = max(MIN_BITRATE, int(round(self.bitrate / divisor**CURVE_EXPONENT, -4)))
        fps = self.fps / divisor
        return Layer(f"{self.name}@{fps:g}fps", self.width, self.height, bitrate, fps)


def curve_bitrate(width: int, height: int, fps: float, *, top: bool) -> int:
    """The default bitrate (bit/s, rounded to 50 kbit/s) for a picture of this size."""
    rate = TOP_ANCHOR_BPS * ((width * height * fps) / _ANCHOR_PIXEL_RATE) ** CURVE_EXPONENT
    if not top:
        rate *= LOWER_SHARE
    rate = round(rate / ROUND_TO) * ROUND_TO
    return int(min(MAX_BITRATE, max(LOWEST_LAYER_BPS, rate)))


def _even(value: float) -> int:
    return max(16, 2 * round(value / 2))


def ladder_for(width: int, height: int, fps: float, *, top_bitrate: int | None = None,
               layers: int = 3) -> tuple[Layer, ...]:
    """The default layers for a ``width`` x ``height`` source at ``fps``, best first.

    ``top_bitrate`` (bit/s) replaces the curve's value for the top layer; ``layers`` is the
    most layers wanted (1 to :data:`MAX_LAYERS`); small sources may get fewer.
    """
    if width < 16 or height < 16 or width % 2 or height % 2:
        raise ConfigError(f"source size must be even and at least 16x16, got {width}x{height}")
    if not 1 <= layers <= MAX_LAYERS:
        raise ConfigError(f"layers must be 1 to {MAX_LAYERS}, got {layers}")
    bitrate = top_bitrate if top_bitrate is not None else curve_bitrate(
        width, height, fps, top=True)
    result = [Layer(f"{height}p", width, height, bitrate, fps)]
    while len(result) < layers:
        above = result[-1]
        lower = [h for h in COMMON_HEIGHTS if h <= above.height / LAYER_RATIO]
        if not lower:
            break
        h = lower[0]
        w = _even(width * h / height)
        rate = min(curve_bitrate(w, h, fps, top=False), above.bitrate // 2)
        if rate < LOWEST_LAYER_BPS:
            break
        result.append(Layer(f"{h}p", w, h, rate, fps))
    return tuple(result)


_ITEM = re.compile(r"^(\d+)\s*[xX]\s*(\d+)$")
_RATE = re.compile(r"^(\d+(?:\.\d+)?)\s*([kKmM]?)\s*(?:bps|bit/s|b/s)?$")
_FPS = re.compile(r"^(\d+(?:\.\d+)?)\s*fps$", re.IGNORECASE)
_EXAMPLE = "1920x1080@5M,1280x720@1.5M,640x360@0.4M"


def parse_bitrate(text: str) -> int:
    """``"5M"``, ``"1.5M"``, ``"400k"``, ``"2500000"`` -> bit/s."""
    match = _RATE.match(text.strip())
    if match is None:
        raise ConfigError(
            f"bitrate {text!r} is not understood: write bits per second with an optional "
            f"k or M, e.g. 5M, 1.5M or 400k"
        )
    scale = {"": 1, "k": 1_000, "m": 1_000_000}[match.group(2).lower()]
    return round(float(match.group(1)) * scale)


def parse_ladder(spec: str, *, fps: float,
                 source_size: tuple[int, int] | None = None) -> tuple[Layer, ...]:
    """Layers from a user's spec such as ``"1920x1080@5M,1280x720@1.5M,640x360@0.4M"``.

    Each item is ``WIDTHxHEIGHT@BITRATE``, optionally ``@FPSfps`` (default ``fps``, the
    source's). Items may come in any order; the result is best first. With
    ``source_size`` a layer may not be larger than the source nor change its shape.
    """
    items = [item.strip() for item in spec.split(",") if item.strip()]
    if not items:
        raise ConfigError(f"the layer list is empty: give it like {_EXAMPLE}")
    if len(items) > MAX_LAYERS:
        raise ConfigError(f"at most {MAX_LAYERS} layers, got {len(items)} in {spec!r}")
    layers = [_parse_item(item, fps) for item in items]
    layers.sort(key=lambda layer: (layer.width * layer.height, layer.bitrate), reverse=True)
    for above, below in itertools.pairwise(layers):
        if (above.width, above.height) == (below.width, below.height):
            raise ConfigError(f"two layers are {below.width}x{below.height}: give each layer "
                              "its own size")
        if below.bitrate >= above.bitrate:
            raise ConfigError(
                f"layer {below.width}x{below.height} has a higher bitrate than the larger "
                f"{above.width}x{above.height}: a smaller picture should get fewer bits"
            )
    if source_size is not None:
        _check_fits(layers, source_size)
    return tuple(layers)


def _parse_item(item: str, default_fps: float) -> Layer:
    parts = [part.strip() for part in item.split("@")]
    if len(parts) < 2 or len(parts) > 3:
        raise ConfigError(
            f"layer {item!r} is not understood: write WIDTHxHEIGHT@BITRATE (optionally "
            f"@FPSfps), e.g. {_EXAMPLE}"
        )
    size = _ITEM.match(parts[0])
    if size is None:
        raise ConfigError(f"layer {item!r}: size {parts[0]!r} should be WIDTHxHEIGHT, "
                          "e.g. 1280x720")
    width, height = int(size.group(1)), int(size.group(2))
    bitrate = parse_bitrate(parts[1])
    fps = default_fps
    if len(parts) == 3:
        match = _FPS.match(parts[2])
        if match is None:
            raise ConfigError(f"layer {item!r}: frame rate {parts[2]!r} should look like 15fps")
        fps = float(match.group(1))
    return Layer(f"{height}p", width, height, bitrate, fps)


def _check_fits(layers: list[Layer], source_size: tuple[int, int]) -> None:
    src_w, src_h = source_size
    for layer in layers:
        if layer.width > src_w or layer.height > src_h:
            raise ConfigError(
                f"layer {layer.width}x{layer.height} is larger than the source "
                f"({src_w}x{src_h}): layers can only scale the picture down"
            )
        if abs(layer.width / layer.height - src_w / src_h) > 0.02 * (src_w / src_h):
            raise ConfigError(
                f"layer {layer.width}x{layer.height} does not keep the source's shape "
                f"({src_w}x{src_h}): the picture would be stretched; use a size such as "
                f"{_even(src_w * layer.height / src_h)}x{layer.height}"
            )
