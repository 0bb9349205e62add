"""Who may send the poses of anchored marks, and how often: the server's rule, pure.

Only the computer that publishes a source tracks its anchored marks (it has the original
frames), so only it may send that source's ``poses``. The wire names a participant's
videos by count, not by name, so the server binds a source to the first participant who
sends poses for it while they publish video; nobody else may send that source's poses
until they leave the room or stop publishing. Each source's poses are rate-limited (the
tracker sends about ten a second): a client that floods them is refused, and the room's
other clients never see the flood.
"""

from __future__ import annotations

from collections.abc import Container
from dataclasses import dataclass, field
from typing import Final

from surgery_teach.annotations.poses import Anchor, Poses
from surgery_teach.annotations.shapes import Pointer
from surgery_teach.protocol.messages import ParticipantInfo
from surgery_teach.wire.fields import ErrorCode

POSES_PER_SECOND: Final = 15.0
"""Sustained ``poses`` ops a second per source (the tracker sends 10)."""
POSES_BURST: Final = 15
"""``poses`` ops a source may send at once before the rate applies."""


@dataclass(frozen=True)
class PoseRefusal:
    """Why a ``poses`` or ``anchor`` op is refused: an error ``code`` and its text."""

    code: ErrorCode
    text: str


@dataclass
class _Bucket:
    tokens: float
    at: float


@dataclass
class PoseRules:
    """The room's pose senders and their rates; ``clock`` readings come with each check."""

    per_second: float = POSES_PER_SECOND
    burst: int = POSES_BURST
    _senders: dict[str, str] = field(default_factory=dict)  # source -> participant id
    _buckets: dict[str, _Bucket] = field(default_factory=dict)

    def refusal(self, sender: ParticipantInfo, op: Poses, now: float,
                present: Container[str] | None = None) -> PoseRefusal | None:
        """Why ``sender`` may not send ``op`` at ``now``, or None (and it is counted)."""
        if sender.publishes.video <= 0:
            return PoseRefusal(ErrorCode.FORBIDDEN, (
                f"poses of source {op.source!r} come from the computer that publishes it; "
                "you publish no video. Only the publisher tracks its anchored marks"))
        owner = self._senders.get(op.source)
        if owner is not None and owner != sender.id and (present is None or owner in present):
            return PoseRefusal(ErrorCode.FORBIDDEN, (
                f"poses of source {op.source!r} come from {owner!r}, who publishes it; "
                "only one participant tracks a source"))
        if owner is None and sum(1 for who in self._senders.values()
                                 if who == sender.id) >= sender.publishes.video:
            return PoseRefusal(ErrorCode.FORBIDDEN, (
                f"you publish {sender.publishes.video} video(s) and send poses for as many "
                f"sources already; {op.source!r} is not one of yours"))
        bucket = self._buckets.get(op.source)
        if bucket is None:
            bucket = self._buckets[op.source] = _Bucket(float(self.burst), now)
        bucket.tokens = min(float(self.burst),
                            bucket.tokens + max(0.0, now - bucket.at) * self.per_second)
        bucket.at = now
        if bucket.tokens < 1.0:
            return PoseRefusal(ErrorCode.RATE_LIMITED, (
                f"poses of source {op.source!r} are limited to {self.per_second:g} a second; "
                "send one batch of every mark's pose about ten times a second"))
        bucket.tokens -= 1.0
        self._senders[op.source] = sender.id
        return None

    def sources_of(self, participant: str) -> list[str]:
        """The sources whose poses ``participant`` sends."""
        return [s for s, who in self._senders.items() if who == participant]

    def forget(self, participant: str) -> None:
        """``participant`` left: the sources they tracked may be tracked by another."""
        for source in self.sources_of(participant):
            del self._senders[source]
            self._buckets.pop(source, None)


def anchor_refusal(op: Anchor, shape: object) -> PoseRefusal | None:
    """Why mark ``shape`` (what the board holds under ``op.id``) cannot be anchored."""
    if shape is None:
        return PoseRefusal(ErrorCode.BAD_ANNOTATION, (
            f"there is no mark {op.id!r} on the board to anchor (it was removed or faded "
            "away); draw it again with anchored set"))
    if isinstance(shape, Pointer):
        return PoseRefusal(ErrorCode.BAD_ANNOTATION, (
            f"{op.id!r} is a pointer, which follows its owner's hand; anchor a drawn mark"))
    return None
