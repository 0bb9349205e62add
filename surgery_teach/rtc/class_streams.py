"""What each published m-line of a class room carries, as Janus stream descriptions.

A publisher in a class room sends one video m-line per layer and source, plus its voice
(:mod:`.class_publish`). Janus passes every m-line's ``description`` on
to the other participants unchanged, so the description says what the m-line is: which
source (its index and label, whether it carries the synthetic source's stamp) and which
layer of it (index, size, bitrate, frame rate). A viewer rebuilds each source's ladder
from them (:func:`read_feed`) and so knows which m-line to ``switch`` to for a layer.

The description is compact JSON with a version, ``{"v": 1, ...}``: one writer
(:meth:`LayerStream.describe`, :func:`describe_voice`), one reader
(:func:`parse_description`), which rejects anything malformed with MediaServerError.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

from surgery_teach.errors import ConfigError, MediaServerError
from surgery_teach.janus.videoroom import Publisher
from surgery_teach.media.ladder import Layer

logger = logging.getLogger(__name__)

VERSION = 1
MAX_DESCRIPTION = 200
"""Characters; a longer label is cut so that a description always fits."""
MAX_SOURCES = 8
MAX_LAYERS = 4


@dataclass(frozen=True)
class LayerStream:
    """One published video m-line: layer ``layer`` (0 is the top) of source ``source``."""

    source: int
    layer: int
    label: str
    width: int
    height: int
    bitrate: int
    fps: float
    stamped: bool = False
    """The source stamps each frame (the synthetic source): receivers can measure delay."""

    @property
    def as_layer(self) -> Layer:
        return Layer(f"{self.height}p", self.width, self.height, self.bitrate, self.fps)

    def describe(self) -> str:
        """The description to publish this m-line with."""
        fields: dict[str, Any] = {"v": VERSION, "source": self.source, "layer": self.layer,
                                  "w": self.width, "h": self.height, "bps": self.bitrate,
                                  "fps": self.fps, "stamped": self.stamped, "label": ""}
        room = MAX_DESCRIPTION - len(_compact(fields))
        fields["label"] = self.label[:max(0, room)]
        text = _compact(fields)
        while len(text) > MAX_DESCRIPTION:  # escapes made the label longer than it looked
            fields["label"] = fields["label"][:-1]
            text = _compact(fields)
        return text


def _compact(fields: dict[str, Any]) -> str:
    """Compact JSON, letters as they are (a Chinese or Russian label as its characters,
    not six-character escapes, so that any label a source may have, 64 characters, fits
    whole and names the same source as on a peer-to-peer connection)."""
    return json.dumps(fields, separators=(",", ":"), ensure_ascii=False)


def describe_voice() -> str:
    """The description of a publisher's audio m-line."""
    return _compact({"v": VERSION, "voice": True})


def _int(data: dict[str, Any], key: str, low: int, high: int) -> int:
    value = data.get(key)
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise MediaServerError(f"stream description: {key!r} must be a whole number "
                               f"{low}..{high}, got {value!r}")
    return value


def parse_description(text: str) -> LayerStream | None:
    """The layer a video m-line's description names; None for the voice. MediaServerError
    when it is not a description this version writes."""
    if not isinstance(text, str) or len(text) > MAX_DESCRIPTION:
        raise MediaServerError("stream description missing or too long")
    try:
        data = json.loads(text)
    except ValueError:
        raise MediaServerError("stream description is not JSON: the publisher is not a "
                               "surgery_teach client") from None
    version = data.get("v") if isinstance(data, dict) else None
    if not isinstance(data, dict) or version != VERSION:
        raise MediaServerError(f"stream description version {version!r} is not {VERSION}: "
                               "update surgery_teach on every computer")
    if data.get("voice") is True:
        return None
    fps = data.get("fps")
    label = data.get("label")
    stamped = data.get("stamped", False)
    if not isinstance(fps, (int, float)) or isinstance(fps, bool) or not 0 < fps <= 240:
        raise MediaServerError(f"stream description: fps must be above 0 and at most 240, "
                               f"got {fps!r}")
    if not isinstance(label, str) or not isinstance(stamped, bool):
        raise MediaServerError("stream description: label must be text and stamped true/false")
    stream = LayerStream(
        source=_int(data, "source", 0, MAX_SOURCES - 1),
        layer=_int(data, "layer", 0, MAX_LAYERS - 1),
        label=label, width=_int(data, "w", 16, 8192), height=_int(data, "h", 16, 8192),
        bitrate=_int(data, "bps", 30_000, 50_000_000), fps=float(fps), stamped=stamped)
    try:
        stream.as_layer  # noqa: B018 - the ladder's own checks (even sizes...)
    except ConfigError as exc:
        raise MediaServerError(f"stream description: {exc}") from exc
    return stream


@dataclass(frozen=True)
class PublishedSource:
    """One source of a publisher as a viewer sees it: its layers' m-lines, best first."""

    index: int
    label: str
    stamped: bool
    mids: tuple[str, ...]
    ladder: tuple[Layer, ...]

    def mid(self, layer: int) -> str:
        """The publisher's m-line that carries ``layer``."""
        return self.mids[layer]


@dataclass(frozen=True)
class Feed:
    """What one publisher sends: its video sources and its voice's m-line (or None)."""

    feed_id: int
    display: str
    sources: tuple[PublishedSource, ...]
    voice_mid: str | None


def read_feed(publisher: Publisher) -> Feed:
    """A publisher's sources and voice from its streams' descriptions. Streams that are
    not described as this version writes are left out (logged); a source whose layers
    do not run 0, 1, 2... keeps those that do."""
    layers: dict[int, dict[int, tuple[str, LayerStream]]] = {}
    voice: str | None = None
    for stream in publisher.streams:
        if stream.kind == "audio":
            voice = voice or stream.mid
            continue
        if stream.kind != "video":
            continue
        try:
            described = parse_description(stream.description)
        except MediaServerError as exc:
            logger.warning("publisher %s: m-line %s left out: %s", publisher.feed_id,
                           stream.mid, exc)
            continue
        if described is not None:
            layers.setdefault(described.source, {})[described.layer] = (stream.mid, described)
    sources = []
    for index in sorted(layers):
        found = layers[index]
        ordered = []
        while len(ordered) in found:
            ordered.append(found[len(ordered)])
        if not ordered:
            continue
        top = ordered[0][1]
        sources.append(PublishedSource(
            index=index, label=top.label, stamped=top.stamped,
            mids=tuple(mid for mid, _ in ordered),
            ladder=tuple(stream.as_layer for _, stream in ordered)))
    return Feed(publisher.feed_id, publisher.display, tuple(sources), voice)
