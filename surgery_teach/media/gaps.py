"""The longest a viewer went without a new picture of each source, across receivers.

A source's pictures may come through several receivers one after another (peer to peer,
then through the media server): :class:`PictureGaps` samples them all by label, so the
gap while the path changes counts too. Sampled every ``every`` seconds: a gap is known to
within that.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable

from surgery_teach.media.receive import VideoReceiver


class PictureGaps:
    """Watches ``receivers()`` (called at each sample) until :meth:`stop`."""

    def __init__(self, receivers: Callable[[], Iterable[VideoReceiver]], *,
                 every: float = 0.05, clock: Callable[[], float] = time.monotonic) -> None:
        self._receivers = receivers
        self._every = every
        self._clock = clock
        self._counts: dict[int, int] = {}  # id(receiver) -> frames at the last sample
        self._last_new: dict[str, float] = {}  # label -> when a new picture was last seen
        self.longest: dict[str, float] = {}  # label -> the longest gap so far (seconds)
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.ensure_future(self._run())

    async def _run(self) -> None:
        while True:
            self.sample()
            await asyncio.sleep(self._every)

    def sample(self) -> None:
        now = self._clock()
        fresh: set[str] = set()
        for receiver in self._receivers():
            frames = receiver.stats.frames
            if frames > self._counts.get(id(receiver), 0):
                fresh.add(receiver.label)
            self._counts[id(receiver)] = frames
        for label in fresh:
            if label in self._last_new:
                gap = now - self._last_new[label]
                self.longest[label] = max(self.longest.get(label, 0.0), gap)
            self._last_new[label] = now

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
