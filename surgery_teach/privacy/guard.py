"""Privacy at the source: every frame is masked (or carded) once, before anyone sees it.

Every consumer of a video source (the encoders of every layer, the local preview, the
freeze-frame history, the recorder, snapshots) reads the source's ``slot``.
:func:`protect` gives the source a :class:`PrivateSlot`, which runs each frame through
the source's :class:`PrivacyGuard` as the capture thread publishes it, so what lands in
the slot, and so everything downstream, is already masked. It costs no thread and no
copy beyond the masked frame itself.

The guard fails closed: if masking a frame raises (anything at all), that frame is not
published; a "video withheld for privacy" card of the same size is, and the guard's
``on_problem`` listener hears a :class:`PrivacyProblem` (and ``None`` once masking works
again), so the session can tell the surgeon. If even the card cannot be made, nothing is
published for that frame. While the :class:`~.curtain.PrivacyCurtain` is closed the guard
publishes the "video paused for privacy" card, and the moment it closes the slot's held
frame is replaced by a card, so a consumer that asks for the latest frame never gets the
picture from before.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import av

from surgery_teach.capture.base import CapturedFrame, FrameSlot, VideoSource
from surgery_teach.privacy.card import CardKind, CardPainter
from surgery_teach.privacy.curtain import CurtainState, PrivacyCurtain
from surgery_teach.privacy.masks import Mask, apply_masks

logger = logging.getLogger("surgery_teach.privacy")

_PAINTER = CardPainter()


@dataclass(frozen=True)
class PrivacyProblem:
    """Masking fails on ``source``'s frames since ``since`` (``time.time()``): they are
    withheld (cards are sent instead). ``reason`` says why, for the surgeon's screen and
    the log; it never contains picture data."""

    source: str
    reason: str
    since: float

    @property
    def text(self) -> str:
        return (f"{self.source}: masking failed ({self.reason}); its video is withheld for "
                "privacy until masking works again")


ProblemListener = Callable[[PrivacyProblem | None], None]


@dataclass
class GuardStats:
    """What a guard did: frames masked (and the time it took), carded and dropped."""

    masked: int = 0
    paused: int = 0
    withheld: int = 0
    dropped: int = 0
    mask_seconds: float = 0.0


class PrivacyGuard:
    """The privacy rules of one source: its masks, the curtain it obeys, and what to do
    when masking fails. :meth:`filter` turns a captured picture into the one to publish."""

    def __init__(self, label: str, masks: Sequence[Mask] = (), *,
                 curtain: PrivacyCurtain | None = None,
                 on_problem: ProblemListener | None = None) -> None:
        self.label = label
        self.curtain = curtain
        self.on_problem = on_problem
        self.stats = GuardStats()
        self._masks: tuple[Mask, ...] = tuple(masks)
        self._problem: PrivacyProblem | None = None

    @property
    def masks(self) -> tuple[Mask, ...]:
        return self._masks

    def set_masks(self, masks: Sequence[Mask]) -> None:
        """Use ``masks`` from the next frame on (the surgeon edited them on the preview)."""
        self._masks = tuple(masks)  # one reference swap: the capture thread sees old or new

    @property
    def problem(self) -> PrivacyProblem | None:
        """Why this source's video is being withheld now, or ``None``."""
        return self._problem

    def filter(self, image: av.VideoFrame) -> av.VideoFrame:
        """The picture to publish for ``image``: masked, or a card. Raises only if not even
        a card can be made (then the caller publishes nothing)."""
        state = self.curtain.state if self.curtain is not None else None
        if state is not None and state.closed:
            self.stats.paused += 1
            return self.card(CardKind.PAUSED, image, state)
        started = time.perf_counter()
        try:
            masked = apply_masks(image, self._masks)
        except Exception as exc:  # fail closed, whatever went wrong
            self.stats.withheld += 1
            self._failing(exc)
            return self.card(CardKind.WITHHELD, image)
        self.stats.mask_seconds += time.perf_counter() - started
        self.stats.masked += 1
        if self._problem is not None:
            self._report(None)
        return masked

    def card(self, kind: CardKind, like: av.VideoFrame,
             state: CurtainState | None = None) -> av.VideoFrame:
        """A card of ``kind`` the size and format of ``like``."""
        detail = f"paused by {state.by}" if state is not None and state.by else ""
        return _PAINTER.frame(kind, like.width, like.height, fmt=like.format.name,
                              detail=detail)

    def _failing(self, exc: BaseException) -> None:
        if self._problem is None:
            reason = f"{type(exc).__name__}: {exc}"[:200]
            self._report(PrivacyProblem(self.label, reason, time.time()))

    def _report(self, problem: PrivacyProblem | None) -> None:
        self._problem = problem
        if problem is not None:
            logger.error("%s", problem.text)
        else:
            logger.warning("%s: masking works again; its video is sent again", self.label)
        if self.on_problem is not None:
            try:
                self.on_problem(problem)
            except Exception:
                logger.exception("a privacy problem listener failed")


class PrivateSlot(FrameSlot):
    """A :class:`FrameSlot` that holds only what its guard lets through.

    Frames are numbered by the slot (``seq`` from 1), so a card put in between two
    captured frames (the curtain closing) is a frame like any other for every consumer.
    The slot listens to its guard's curtain until it is closed (the source stopped).
    """

    def __init__(self, guard: PrivacyGuard) -> None:
        super().__init__()
        self.guard = guard
        self._put_lock = threading.Lock()
        self._count = 0
        if guard.curtain is not None:
            guard.curtain.on_change(self._on_curtain)

    def put(self, frame: CapturedFrame) -> None:
        """Publish ``frame`` masked or carded (called from the capture thread)."""
        with self._put_lock:
            try:
                image = self.guard.filter(frame.image)
            except Exception:
                self.guard.stats.dropped += 1
                logger.exception("%s: no privacy card could be made; frame dropped",
                                 self.guard.label)
                return
            self._count += 1
            super().put(replace(frame, image=image, seq=self._count))

    def show_card_now(self) -> None:
        """Replace the held frame with the card at once (the curtain just closed), rather
        than at the source's next frame."""
        with self._put_lock:
            held = self.latest()
            if held is None or self.closed:
                return
            try:
                image = self.guard.filter(held.image)
            except Exception:
                logger.exception("%s: no privacy card could be made", self.guard.label)
                return
            self._count += 1
            super().put(CapturedFrame(image, self._count, time.time()))

    def close(self) -> None:
        if self.guard.curtain is not None:
            self.guard.curtain.off_change(self._on_curtain)
        super().close()

    def _on_curtain(self, state: CurtainState) -> None:
        if state.closed:
            self.show_card_now()


def protect(source: VideoSource, masks: Sequence[Mask] = (), *,
            curtain: PrivacyCurtain | None = None,
            on_problem: ProblemListener | None = None) -> PrivacyGuard:
    """Mask ``source`` and put it behind ``curtain``, for every consumer: call it right
    after opening the source, before ``start()`` and before anyone reads its slot.

    Returns the source's guard (change masks with :meth:`PrivacyGuard.set_masks`; read
    :attr:`PrivacyGuard.problem`). Raises ``RuntimeError`` if the source has published
    frames already (a programming error: those frames were not masked).
    """
    if source.slot.latest() is not None or getattr(source, "running", False):
        raise RuntimeError(f"protect {source.label!r} before starting it: frames it "
                           "published already were not masked")
    if isinstance(source.slot, PrivateSlot):  # protected again: the new guard rules
        source.slot.close()
    guard = PrivacyGuard(source.label, masks, curtain=curtain, on_problem=on_problem)
    source.slot = PrivateSlot(guard)
    return guard


def guard_of(source: VideoSource) -> PrivacyGuard | None:
    """The guard protecting ``source``, or ``None`` if it is not protected."""
    slot = source.slot
    return slot.guard if isinstance(slot, PrivateSlot) else None
