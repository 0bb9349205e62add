"""Setting up media between two participants: offers, answers and ICE candidates.

The signal data (:class:`Offer`, :class:`Answer` with the :class:`TrackInfo` labels of
what they send, :class:`Candidate`) is relayed verbatim between two participants: a
client sends it in a ``signal`` naming who it is for (:class:`Signal`), and the server
passes it on as a ``signal`` naming who it is from (:class:`Relayed`). Each message is
followed by its reader and writer and the :class:`~.common.WireForm` the envelope lists.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final, TypeAlias

from surgery_teach.protocol.messages.common import WireForm, normalise
from surgery_teach.wire.fields import (
    MAX_CANDIDATE_CHARS,
    MAX_ID_CHARS,
    MAX_LABEL_CHARS,
    MAX_MLINE_INDEX,
    MAX_SOURCE_CHARS,
    MAX_TRACKS,
    MAX_USERNAME_FRAGMENT_CHARS,
    JsonObject,
    MessageRef,
    bad,
    check_ref,
    check_sdp,
    check_text,
    clean_label,
    json_kind,
    show,
)

# -- signal data, relayed verbatim between two participants -----------------------------------


@dataclass(frozen=True)
class TrackInfo:
    """Names one sending track; ``track_id`` is the msid track id in the SDP."""

    track_id: str
    label: str
    source: str = ""

    def __post_init__(self) -> None:
        check_text(self.track_id, "track_id", MAX_ID_CHARS)
        normalise(self, "label", clean_label(self.label, "label", MAX_LABEL_CHARS))
        check_text(self.source, "source", MAX_SOURCE_CHARS, allow_empty=True)


@dataclass(frozen=True)
class Offer:
    """An SDP offer, with a human label for each track it sends."""

    sdp: str
    tracks: tuple[TrackInfo, ...] = ()

    def __post_init__(self) -> None:
        check_sdp(self.sdp)
        _check_tracks(self)


@dataclass(frozen=True)
class Answer:
    """An SDP answer, sent back to the participant that made the offer.

    ``tracks`` labels what the answerer sends back, when both sides publish.
    """

    sdp: str
    tracks: tuple[TrackInfo, ...] = ()

    def __post_init__(self) -> None:
        check_sdp(self.sdp)
        _check_tracks(self)


def _check_tracks(data: Offer | Answer) -> None:
    normalise(data, "tracks", tuple(data.tracks))
    if len(data.tracks) > MAX_TRACKS:
        raise bad("tracks", f"lists {len(data.tracks)} tracks; the limit is {MAX_TRACKS}")
    seen: set[str] = set()
    for track in data.tracks:
        if track.track_id in seen:
            raise bad("tracks", f"names track_id {show(track.track_id)} twice")
        seen.add(track.track_id)


@dataclass(frozen=True)
class Candidate:
    """One trickled ICE candidate (browsers); an empty ``candidate`` ends the candidates.

    The fields are those of a browser's ``RTCIceCandidate.toJSON()``.
    """

    candidate: str
    sdp_mid: str | None = None
    sdp_mline_index: int | None = None
    username_fragment: str | None = None

    def __post_init__(self) -> None:
        check_text(self.candidate, "candidate", MAX_CANDIDATE_CHARS, allow_empty=True)
        if self.sdp_mid is not None:
            check_text(self.sdp_mid, "sdpMid", MAX_ID_CHARS, allow_empty=True)
        if self.username_fragment is not None:
            check_text(
                self.username_fragment,
                "usernameFragment",
                MAX_USERNAME_FRAGMENT_CHARS,
                allow_empty=True,
            )
        index = self.sdp_mline_index
        if index is not None and (
            isinstance(index, bool)
            or not isinstance(index, int)
            or not 0 <= index <= MAX_MLINE_INDEX
        ):
            raise bad("sdpMLineIndex", f"must be an integer from 0 to {MAX_MLINE_INDEX} or null")


SignalData: TypeAlias = Offer | Answer | Candidate

_DATA_FIELDS: Final = {
    "offer": ("kind", "sdp", "tracks"),
    "answer": ("kind", "sdp", "tracks"),
    "candidate": ("kind", "candidate", "sdpMid", "sdpMLineIndex", "usernameFragment"),
}


def _read_track(value: object, path: str, *, strict: bool) -> TrackInfo:
    track = JsonObject(value, path, ("track_id", "label", "source"), strict=strict, what="a track")
    return track.build(
        TrackInfo,
        track_id=track.text("track_id"),
        label=track.text("label"),
        source=track.text("source", default=""),
    )


def _read_data(value: object, *, strict: bool) -> SignalData:
    kind = value.get("kind") if isinstance(value, dict) else None
    if not isinstance(kind, str) or kind not in _DATA_FIELDS:  # [] or {} are unhashable
        if not isinstance(value, dict):
            raise bad("data", f"must be a JSON object (got {json_kind(value)})")
        raise bad("data.kind", f"must be offer, answer or candidate (got {json_kind(kind)})")
    data = JsonObject(value, "data", _DATA_FIELDS[kind], strict=strict, what=f"{kind} data")
    if kind == "candidate":
        return data.build(
            Candidate,
            candidate=data.text("candidate"),
            sdp_mid=data.nullable_text("sdpMid"),
            sdp_mline_index=data.nullable_integer("sdpMLineIndex"),
            username_fragment=data.nullable_text("usernameFragment"),
        )
    sdp = data.text("sdp")
    raw_tracks = data.array("tracks", optional=True)
    if len(raw_tracks) > MAX_TRACKS:  # before reading them one by one
        raise bad("data.tracks", f"lists {len(raw_tracks)} tracks; the limit is {MAX_TRACKS}")
    tracks = tuple(
        _read_track(item, f"data.tracks[{index}]", strict=strict)
        for index, item in enumerate(raw_tracks)
    )
    return data.build(Offer if kind == "offer" else Answer, sdp=sdp, tracks=tracks)


def _data(data: SignalData) -> dict[str, Any]:
    match data:
        case Offer(sdp=sdp, tracks=tracks) | Answer(sdp=sdp, tracks=tracks):
            body: dict[str, Any] = {"kind": "offer" if isinstance(data, Offer) else "answer",
                                    "sdp": sdp}
            if tracks:
                body["tracks"] = [
                    {"track_id": t.track_id, "label": t.label, "source": t.source} for t in tracks
                ]
            return body
        case Candidate():
            body = {
                "kind": "candidate",
                "candidate": data.candidate,
                "sdpMid": data.sdp_mid,
                "sdpMLineIndex": data.sdp_mline_index,
            }
            # Left out when absent: a server or client from before it was added refuses it.
            if data.username_fragment is not None:
                body["usernameFragment"] = data.username_fragment
            return body
    raise TypeError(f"not signal data: {data!r}")


# -- client -> server -------------------------------------------------------------------------


@dataclass(frozen=True)
class Signal:
    """Ask the server to relay ``data`` to participant ``to`` in the same room."""

    to: str
    data: SignalData
    id: MessageRef = None

    def __post_init__(self) -> None:
        check_text(self.to, "to", MAX_ID_CHARS)
        check_ref(self.id)


def _read_signal(msg: JsonObject) -> Signal:
    return msg.build(
        Signal,
        to=msg.text("to"),
        data=_read_data(msg.value("data"), strict=True),
        id=msg.ref(),
    )


SIGNAL_FORM: Final = WireForm(
    "signal",
    Signal,
    _read_signal,
    lambda msg: {"to": msg.to, "data": _data(msg.data)},
    fields=("to", "data"),
)


# -- server -> client -------------------------------------------------------------------------


@dataclass(frozen=True)
class Relayed:
    """Signal data from participant ``sender`` (wire type ``signal``, field ``from``)."""

    sender: str
    data: SignalData


RELAYED_FORM: Final = WireForm(
    "signal",
    Relayed,
    lambda msg: Relayed(
        sender=msg.text("from"), data=_read_data(msg.value("data"), strict=False)
    ),
    lambda msg: {"from": msg.sender, "data": _data(msg.data)},
)
