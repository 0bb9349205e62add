"""Telling a viewer which layer of a source it gets, and why, over the ``stills`` channel.

The publisher chooses each viewer's layer (:mod:`.adaptation`); the viewer sees the
picture size but not the reason. After each switch the publisher sends a small JSON
message on the peer connection's ``stills`` data channel (docs/protocol.md, section 9)::

    {"kind": "layer", "source": "Laparoscope", "layer": "360p", "top": "720p",
     "reason": "limited by your link"}

``reason`` is one of :class:`~surgery_teach.media.layer_choice.Reason`'s values. A client
that does not know the ``layer`` kind ignores it, as it ignores any unknown kind.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from surgery_teach.errors import MediaError

KIND = "layer"
MAX_FIELD_CHARS = 200


@dataclass(frozen=True)
class LayerNote:
    """``source`` is sent to this viewer as ``layer`` of ``top`` because of ``reason``."""

    source: str
    layer: str
    top: str
    reason: str

    @property
    def limited(self) -> bool:
        return self.layer != self.top

    def to_json(self) -> str:
        return json.dumps({"kind": KIND, "source": self.source, "layer": self.layer,
                           "top": self.top, "reason": self.reason}, ensure_ascii=False)


def parse_note(text: str) -> LayerNote | None:
    """The note in ``text``; ``None`` when it is another kind of message. Raises
    :class:`MediaError` for a malformed note."""
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise MediaError(f"malformed message on the stills channel: {exc}") from exc
    if not isinstance(data, dict) or data.get("kind") != KIND:
        return None
    fields = [data.get(name) for name in ("source", "layer", "top", "reason")]
    if not all(isinstance(f, str) and 0 < len(f) <= MAX_FIELD_CHARS for f in fields):
        raise MediaError("malformed layer note: source, layer, top and reason must be text")
    return LayerNote(*fields)  # type: ignore[arg-type]
