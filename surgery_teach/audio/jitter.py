"""Decoded voice waiting for the speaker, holding no more than the link's jitter needs.

A fixed playout buffer is either too long on a clean link (delay nobody needs) or too
short on a jittery one (gaps). :class:`VoiceBuffer` measures how late each frame arrives
compared with the earliest frame of the last few seconds (its media time says when it
was spoken), and keeps just that much in hand, plus a small safety:

- it starts playing once a frame plus that margin is buffered;
- when its low-water mark over a second stays well above the margin, it shortens the
  audio it holds by cross-fading a few milliseconds away, in a pause between words
  when it can (no click, no gap);
- when it runs dry anyway (a frame a little late), it carries the last sound on, fading,
  until the frame comes, and plays it at once: the voice goes on only as much later as the
  frame was late. It counts an underrun and grows the margin (which then shrinks again
  slowly). Only a voice that stays away longer than :data:`CONCEAL_MAX` (a talker who
  left, a link that broke) falls silent, and then refills the margin before playing;
- a frame lost on the way (its media time skips ahead) is replaced by a fading copy of
  the last sound, so the timing holds and the hole is counted as concealed.

Samples are mono int16 at :attr:`rate`. :meth:`put` runs on the asyncio loop and
:meth:`take` on the sound card's thread; both hold one lock briefly.
"""

from __future__ import annotations

import collections
import threading
import time
from collections.abc import Callable

import numpy as np

from surgery_teach.audio.devices import SAMPLE_RATE

#: The least and most audio held beyond one frame, in seconds.
MIN_MARGIN = 0.008
MAX_MARGIN = 0.200
#: Held beyond the measured jitter, for the sound card's own unevenness.
SAFETY = 0.004
#: More than this piled up (a stall) is dropped at once, oldest first.
LIMIT = 0.400
#: How far back arrival lateness is remembered.
JITTER_WINDOW = 4.0
#: Added to the margin on each underrun, and how fast that extra decays (per second played).
UNDERRUN_BUMP = 0.010
BUMP_DECAY = 0.005
#: Low-water marks are taken over this much played audio before shortening.
SHRINK_WINDOW = 1.0
#: At most this much is cross-faded away per sound card block.
SHRINK_STEP = 0.0025
#: Cutting waits for a pause (RMS below this, int16) unless more than LOUD_SHRINK is extra.
QUIET = 330.0  # -40 dBFS
LOUD_SHRINK = 0.250
#: Holes up to this long are concealed; longer ones (a new stream) are not.
CONCEAL_MAX = 0.120


class VoiceBuffer:
    """One remote voice between the network and the speaker (mono int16)."""

    def __init__(self, *, rate: int = SAMPLE_RATE, min_margin: float = MIN_MARGIN,
                 max_margin: float = MAX_MARGIN, limit: float = LIMIT,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if not 0 <= min_margin <= max_margin < limit:
            raise ValueError("need 0 <= min_margin <= max_margin < limit")
        self.rate = rate
        self.min_margin = min_margin
        self.max_margin = max_margin
        self.limit = round(limit * rate)
        self._clock = clock
        #: Measured arrival jitter: the latest frame of the window against the earliest.
        self.jitter = 0.0
        #: Times the speaker asked for audio and the buffer ran dry.
        self.underruns = 0
        #: Samples dropped: cross-faded away to cut delay, or dropped after a stall.
        self.dropped = 0
        #: Samples made up for frames lost on the way.
        self.concealed = 0
        #: Samples made up while the buffer ran dry, waiting for a late frame.
        self.bridged = 0
        #: Most samples ever held after a :meth:`put`.
        self.peak = 0
        self._bump = 0.0
        self._lock = threading.Lock()
        self._chunks: collections.deque[np.ndarray] = collections.deque()
        self._size = 0
        self._priming = True
        self._frame = 960  # the size of the last frame put: the unit the network delivers
        self._arrivals: collections.deque[tuple[float, float]] = collections.deque()
        self._expected: float | None = None
        self._last = np.zeros(0, dtype=np.int16)
        self._low = 1 << 30
        self._low_taken = 0
        self._shrink = 0
        self._dry = 0  # samples bridged since the buffer last ran dry

    # -- what the session and tests read ----------------------------------------------------

    @property
    def margin(self) -> float:
        """Seconds held beyond one frame: the measured jitter plus safety, plus any extra
        after recent underruns."""
        base = min(self.max_margin, max(self.min_margin, self.jitter + SAFETY))
        return min(self.max_margin, base + self._bump)

    @property
    def target(self) -> int:
        """Samples to hold before (re)starting to play."""
        return self._frame + round(self.margin * self.rate)

    def lateness(self, q: float) -> float:
        """How late the ``q``-th percentile frame of the window came (seconds behind the
        earliest): the jitter spread, for reports."""
        with self._lock:
            delays = [d for _, d in self._arrivals]
        if not delays:
            return 0.0
        return float(np.percentile(delays, q)) - min(delays)

    @property
    def buffered(self) -> int:
        with self._lock:
            return self._size

    def clear(self) -> None:
        """Forget what is held (stale after the speaker was away); refill before playing."""
        with self._lock:
            self._chunks.clear()
            self._size = 0
            self._priming = True
            self._shrink = 0
            self._dry = 0
            self._low, self._low_taken = 1 << 30, 0

    # -- the network side -------------------------------------------------------------------

    def put(self, samples: np.ndarray, media_time: float | None = None) -> None:
        """Queue ``samples`` (1-D int16); ``media_time`` is when the first was spoken, in
        seconds of the sender's clock (a frame's ``pts * time_base``)."""
        samples = np.asarray(samples, dtype=np.int16).reshape(-1)
        if samples.size == 0:
            return
        now = self._clock()
        with self._lock:
            if media_time is not None:
                self._measure(now, media_time)
                missing = self._missing(media_time, samples.size)
                if missing:
                    self._append(self._concealment(missing))
                    self.concealed += missing
            self._append(samples)
            self._last = samples[-min(samples.size, self.rate // 100):]
            self._frame = samples.size
            if self._size > self.limit:
                self._discard(self._size - self.target)
            self.peak = max(self.peak, self._size)

    def _measure(self, now: float, media_time: float) -> None:
        lateness = now - media_time
        arrivals = self._arrivals
        if arrivals and abs(lateness - min(d for _, d in arrivals)) > 2.0:
            arrivals.clear()  # the sender's clock restarted (a new stream)
        arrivals.append((now, lateness))
        while arrivals[0][0] < now - JITTER_WINDOW:
            arrivals.popleft()
        delays = [d for _, d in arrivals]
        self.jitter = max(delays) - min(delays)

    def _missing(self, media_time: float, count: int) -> int:
        """Samples lost just before a frame starting at ``media_time``."""
        expected, self._expected = self._expected, media_time + count / self.rate
        if expected is None:
            return 0
        gap = media_time - expected
        if 0.005 < gap <= CONCEAL_MAX:
            return round(gap * self.rate)
        return 0

    def _concealment(self, count: int, start: int = 0) -> np.ndarray:
        """``count`` samples continuing the last sound, fading out (a repeated tail, each
        repeat softer); ``start`` samples of it were played already."""
        size = self._last.size
        if size == 0:
            return np.zeros(count, dtype=np.int16)
        index = np.arange(start, start + count)
        gains = 0.7 ** (index // size + 1)
        return np.round(self._last[index % size] * gains).astype(np.int16)

    def _append(self, samples: np.ndarray) -> None:
        self._chunks.append(samples)
        self._size += samples.size

    def _discard(self, count: int) -> None:
        self.dropped += count
        self._size -= count
        while count:
            head = self._chunks[0]
            if head.size <= count:
                self._chunks.popleft()
                count -= head.size
            else:
                self._chunks[0] = head[count:]
                count = 0

    # -- the sound card side ----------------------------------------------------------------

    def take(self, out: np.ndarray) -> None:
        """Fill ``out`` (1-D int16) with the oldest samples, or silence while (re)filling."""
        wanted = out.size
        with self._lock:
            self._bump = max(0.0, self._bump - BUMP_DECAY * wanted / self.rate)
            if self._priming and self._size < self.target:
                out[:] = 0
                return
            self._priming = False
            if self._shrink > 0:
                self._shorten(min(self._shrink, round(SHRINK_STEP * self.rate)))
            filled = 0
            while filled < wanted and self._chunks:
                head = self._chunks[0]
                n = min(head.size, wanted - filled)
                out[filled : filled + n] = head[:n]
                filled += n
                if n == head.size:
                    self._chunks.popleft()
                else:
                    self._chunks[0] = head[n:]
            self._size -= filled
            if filled < wanted:
                self._run_dry(out, filled)
                return
            self._dry = 0
            self._watch_low_water(wanted)

    def _run_dry(self, out: np.ndarray, filled: int) -> None:
        """The buffer ran out after ``filled`` samples of ``out``: bridge the rest with the
        last sound, fading, while the next frame is probably just late; after
        :data:`CONCEAL_MAX` without one, silence and refill the margin first."""
        if filled:
            self._dry = 0  # a new frame played: this is a new wait
        if self._dry == 0:
            self.underruns += 1
            self._bump = min(self.max_margin, self._bump + UNDERRUN_BUMP)
        self._shrink = 0
        self._low, self._low_taken = 1 << 30, 0
        bridge = min(out.size - filled, max(0, round(CONCEAL_MAX * self.rate) - self._dry))
        if bridge:
            out[filled : filled + bridge] = self._concealment(bridge, self._dry)
            self._dry += bridge
            self.bridged += bridge
        out[filled + bridge :] = 0
        if filled + bridge < out.size:  # gone for good, it seems: start again when back
            self._priming = True
            self._dry = 0

    def _watch_low_water(self, taken: int) -> None:
        """Over each second played, note the least held; holding more than the margin
        needs means delay nobody needs: plan to cross-fade it away."""
        self._low = min(self._low, self._size)
        self._low_taken += taken
        if self._low_taken < SHRINK_WINDOW * self.rate:
            return
        excess = self._low - round(self.margin * self.rate)
        if excess > round(0.004 * self.rate):
            self._shrink = excess
        self._low, self._low_taken = 1 << 30, 0

    def _shorten(self, count: int) -> None:
        """Cut ``count`` samples in a pause (where nobody hears it), or anywhere once far
        too much is held."""
        if count <= 0 or self._size < 2 * count + 1:
            return
        head = self._head(2 * count)[: 2 * count].astype(np.float64)
        quiet = float(np.sqrt(np.mean(head**2))) < QUIET
        if quiet or self._shrink > round(LOUD_SHRINK * self.rate):
            self._cross_fade_away(count)

    def _cross_fade_away(self, count: int) -> None:
        """Remove ``count`` samples from the head by cross-fading ``2 * count`` into
        ``count``: the sound goes on a little earlier, without a click."""
        if count <= 0 or self._size < 2 * count + 1:
            return
        head = self._head(2 * count)
        ramp = np.linspace(0.0, 1.0, count, endpoint=False)
        first = head[:count].astype(np.float64)
        second = head[count : 2 * count].astype(np.float64)
        mixed = np.round(first * (1.0 - ramp) + second * ramp).astype(np.int16)
        self._chunks[0] = np.concatenate([mixed, head[2 * count :]])
        self._size -= count
        self.dropped += count
        self._shrink -= count

    def _head(self, count: int) -> np.ndarray:
        """The first chunk, merged with the following ones until it holds ``count``."""
        head = self._chunks[0]
        while head.size < count and len(self._chunks) > 1:
            self._chunks.popleft()
            head = np.concatenate([head, self._chunks[0]])
            self._chunks[0] = head
        return head
