"""Hypothesis strategies for what a hostile or broken client may send the server.

Frames range from noise (any text, any bytes) through JSON of any shape to messages that
look almost right: the documented examples with one field changed, dropped or added, and
envelopes of every client type filled with plausible and implausible field values. The
string ``p-PEER`` stands for another participant's id; tests that run against a server
replace it with a real one.
"""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path
from typing import Any

from hypothesis import strategies as st

DOC = Path(__file__).resolve().parents[2] / "docs" / "protocol.md"
PEER = "p-PEER"
CLIENT_TYPES = (
    "join", "leave", "signal", "ping", "publish", "chat", "annotate", "grant-draw", "remove",
    "record", "chapter",
)
FIELD_NAMES = (
    "v", "type", "id", "room", "name", "role", "publishes", "video", "audio", "to", "data",
    "kind", "sdp", "tracks", "track_id", "label", "source", "candidate", "sdpMid",
    "sdpMLineIndex", "usernameFragment", "text", "op", "allowed", "participant", "seq",
    "shape", "author", "colour", "width", "frame_time", "pinned", "created", "points",
    "start", "end", "box", "anchor", "at", "scope", "state", "title", "time", "client_key",
)
HINTS: tuple[Any, ...] = (
    1, 0, -1, 2, 8, 9, 65535, 65536, 2**53 - 1, 2**53, -(2**53), 10**30, 0.5, -0.0, 1e308,
    "", " ", "\n", "\u0000", "\u200b", "\ud800", "p-PEER", "surgeon", "mentor", "trainee",
    "student", "offer", "answer", "candidate", "add", "update", "remove", "clear", "undo",
    "redo", "freeze", "unfreeze", "pen", "arrow", "line", "ellipse", "rect", "pointer",
    "mine", "all", "on", "off", "#ff0000", "#FFD400", "red", "Laparoscope", "v=0\r\n",
    "x" * 70, "李明", "Иванова А. П.", [0.5, 0.5], [1.5, 0], [0.1, 0.2, 0.3, 0.4],
    [[0.1, 0.2], [0.3, 0.4]], [[0.1]], {"video": 1, "audio": True}, {"video": 9},
    {"kind": "answer", "sdp": "v=0"}, {"kind": "offer", "sdp": "v=0", "tracks": [{}]},
    {"op": "undo", "seq": 0, "author": "p-PEER"}, [], {}, None, True, False,
)
"""Values that sit on or near the edges of the rules, or name things the rules know."""

_CHARS = st.characters(exclude_categories=("Cs",))  # websockets cannot send lone surrogates
json_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(_CHARS, max_size=20)
    | st.sampled_from(HINTS)
)
json_values = st.recursive(
    json_scalars,
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.sampled_from(FIELD_NAMES) | st.text(max_size=6), children, max_size=4),
    max_leaves=16,
)


@functools.cache
def documented_client_messages() -> list[dict[str, Any]]:
    """The client messages shown in docs/protocol.md, decoded; the annotation ops and the
    signal data shown on their own are put in the ``annotate`` or ``signal`` around them."""
    examples = re.findall(r"```json\n(.*?)\n```", DOC.read_text(encoding="utf-8"), re.DOTALL)
    messages = []
    for obj in (json.loads(example) for example in examples):
        if not isinstance(obj, dict):
            continue
        if "op" in obj and "type" not in obj:
            messages.append({"v": 1, "type": "annotate", "op": obj})
        elif "kind" in obj and "v" not in obj:
            messages.append({"v": 1, "type": "signal", "to": PEER, "data": obj})
        elif obj.get("type") in CLIENT_TYPES and "from" not in obj:
            messages.append(obj)
    return messages


@st.composite
def mutated(draw: st.DrawFn, value: Any) -> Any:
    """``value`` with one thing changed somewhere inside it: replaced, dropped or added."""
    if isinstance(value, dict) and value and draw(st.integers(0, 7)) > 0:
        key = draw(st.sampled_from(sorted(value)))
        copy = dict(value)
        action = draw(st.sampled_from(_ACTIONS))
        if action == "inside":
            copy[key] = draw(mutated(value[key]))
        elif action == "replace":
            copy[key] = draw(json_values)
        elif action == "drop":
            del copy[key]
        else:
            copy[draw(st.sampled_from(FIELD_NAMES))] = draw(json_values)
        return copy
    if isinstance(value, list) and value and draw(st.booleans()):
        index = draw(st.integers(0, len(value) - 1))
        copy_list = list(value)
        copy_list[index] = draw(mutated(value[index]))
        return copy_list
    return draw(st.sampled_from(HINTS) | json_scalars if draw(st.booleans()) else json_values)


_ACTIONS = ("inside",) * 4 + ("replace",) * 2 + ("drop", "add")
"""Mostly deep changes: they get past the envelope checks into the field rules."""


@st.composite
def envelopes(draw: st.DrawFn) -> dict[str, Any]:
    """``{"v":1,"type":...}`` with a few fields of the protocol, holding anything."""
    obj: dict[str, Any] = {
        "v": draw(st.just(1) | json_scalars),
        "type": draw(st.sampled_from(CLIENT_TYPES) | st.sampled_from(("welcome", "Ping", ""))),
    }
    for name in draw(st.lists(st.sampled_from(FIELD_NAMES), max_size=6, unique=True)):
        obj[name] = draw(json_values)
    return obj


def _dumps(value: Any) -> str:
    """Compact JSON; a lone surrogate is written as its escape, the only way to send it."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = json.dumps(value, separators=(",", ":"))
    return text


@st.composite
def near_misses(draw: st.DrawFn) -> str:
    """A documented client message with one thing changed, as JSON text."""
    example = draw(st.sampled_from(documented_client_messages()))
    return _dumps(draw(mutated(example) | st.just(example)))


@st.composite
def truncated(draw: st.DrawFn) -> str:
    """A documented client message cut short or padded."""
    text = _dumps(draw(st.sampled_from(documented_client_messages())))
    cut = draw(st.integers(0, len(text)))
    return text[:cut] + draw(st.sampled_from(("", " ", "}", "]", ",", '"', "\\", "\x00")))


def json_texts() -> st.SearchStrategy[str]:
    """Text frames that are JSON, or nearly: the heart of the fuzzing."""
    return (
        near_misses()
        | envelopes().map(_dumps)
        | json_values.map(_dumps)
        | truncated()
        | st.sampled_from(("NaN", "[" * 100_000, '{"v":1,"type":"ping","v":1}', "1e999"))
    )


def frames() -> st.SearchStrategy[str | bytes]:
    """Anything a client could put in one websocket frame (up to a few KiB)."""
    return json_texts() | st.text(_CHARS, max_size=200) | st.binary(max_size=200)
