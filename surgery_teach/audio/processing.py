"""Echo cancellation and noise suppression on the microphone: WebRTC's audio processing.

In an operating room the mentor's voice comes out of a speaker a metre from the
surgeon's microphone; without echo cancellation the mentor hears themselves a moment
later. WebRTC's audio processing module (the one browsers use: AEC3 echo canceller,
noise suppressor, high-pass filter) does the work, through the ``livekit`` package's
binding. It needs what the speaker played (the far end, :class:`EchoReference`) and
what the microphone heard, both in 10 ms blocks; it finds the delay between them itself.

:class:`VoiceProcessing` is used from the microphone's thread only: the speaker's thread
only appends to the reference, and the microphone's thread hands the reference to the
processor just before each of its own blocks, as WebRTC wants (render before capture).
Without the package, processing is off and :attr:`VoiceProcessing.problem` says why.
"""

from __future__ import annotations

import collections
import logging
import threading
from types import ModuleType
from typing import Any

import numpy as np

from surgery_teach.audio.devices import SAMPLE_RATE

logger = logging.getLogger("surgery_teach.audio")

#: WebRTC processes 10 ms at a time.
BLOCK = SAMPLE_RATE // 100
#: Reference kept for the microphone at most (older is dropped): 0.5 s.
REFERENCE_BLOCKS = 50
PROCESSING_MISSING = ("echo cancellation and noise suppression are off: the livekit "
                      "package is not installed (run make setup)")


def _import_rtc() -> ModuleType:
    # The one import of livekit; tests replace this to simulate a machine without it.
    from livekit import rtc

    return rtc


def load_processing() -> tuple[ModuleType | None, str]:
    """livekit's ``rtc`` module, or ``None`` and the reason it cannot be used."""
    try:
        return _import_rtc(), ""
    except ImportError:
        return None, PROCESSING_MISSING
    except Exception as exc:  # its native library failed to load
        return None, f"echo cancellation and noise suppression are off: {exc}"


class EchoReference:
    """What the speaker played, in 10 ms mono blocks, for the echo canceller.

    :meth:`played` runs on the speaker's thread, :meth:`blocks` on the microphone's.
    Bounded: if nobody takes the reference (no microphone), old blocks are dropped.
    """

    def __init__(self) -> None:
        self._blocks: collections.deque[np.ndarray] = collections.deque(
            maxlen=REFERENCE_BLOCKS)
        self._partial = np.zeros(0, dtype=np.int16)
        self._lock = threading.Lock()

    def played(self, samples: np.ndarray) -> None:
        """The speaker just played ``samples`` (1-D int16, any length)."""
        with self._lock:
            data = np.concatenate([self._partial, samples]) if self._partial.size else samples
            whole = data.size - data.size % BLOCK
            for start in range(0, whole, BLOCK):
                self._blocks.append(np.array(data[start : start + BLOCK], dtype=np.int16))
            self._partial = np.array(data[whole:], dtype=np.int16)

    def blocks(self) -> list[np.ndarray]:
        """Every block played since the last call, oldest first."""
        with self._lock:
            taken = list(self._blocks)
            self._blocks.clear()
        return taken


class VoiceProcessing:
    """Echo cancellation and noise suppression for one microphone (its thread only).

    Each switch can be turned on and off while the microphone runs (:meth:`configure`);
    the processor is rebuilt for the next block. :meth:`process` takes and returns one
    10 ms block of int16 mono.
    """

    def __init__(self, reference: EchoReference | None = None, *,
                 echo_cancellation: bool = True, noise_suppression: bool = True) -> None:
        self.reference = reference or EchoReference()
        self.echo_cancellation = echo_cancellation
        self.noise_suppression = noise_suppression
        self._rtc, self.problem = load_processing()
        self._apm: Any = None
        self._stale = True
        self._lock = threading.Lock()
        #: Blocks processed, and blocks the processor refused (passed through untouched).
        self.blocks = 0
        self.failures = 0
        if self.problem:
            logger.warning("%s", self.problem)

    @property
    def available(self) -> bool:
        return self._rtc is not None

    @property
    def active(self) -> bool:
        """Whether anything is done to the microphone's sound."""
        return self.available and (self.echo_cancellation or self.noise_suppression)

    def configure(self, *, echo_cancellation: bool | None = None,
                  noise_suppression: bool | None = None) -> None:
        """Turn echo cancellation or noise suppression on or off (any thread)."""
        with self._lock:
            if echo_cancellation is not None:
                self.echo_cancellation = echo_cancellation
            if noise_suppression is not None:
                self.noise_suppression = noise_suppression
            self._stale = True

    def process(self, block: np.ndarray) -> np.ndarray:
        """One 10 ms block from the microphone, with echo and noise removed as set."""
        far = self.reference.blocks()
        apm = self._processor()
        if apm is None:
            return block
        rtc = self._rtc
        assert rtc is not None
        try:
            if self.echo_cancellation:
                for played in far:
                    apm.process_reverse_stream(rtc.AudioFrame(played.tobytes(), SAMPLE_RATE,
                                                              1, BLOCK))
            frame = rtc.AudioFrame(np.ascontiguousarray(block, dtype=np.int16).tobytes(),
                                   SAMPLE_RATE, 1, BLOCK)
            apm.process_stream(frame)
        except Exception:  # a refused block must never silence the microphone
            self.failures += 1
            if self.failures == 1:
                logger.exception("echo cancellation failed on a block; passing it through")
            return block
        self.blocks += 1
        return np.frombuffer(bytes(frame.data), dtype=np.int16).copy()

    def _processor(self) -> Any:
        with self._lock:
            if not self._stale:
                return self._apm
            self._stale = False
            self._apm = None
            if self._rtc is None or not (self.echo_cancellation or self.noise_suppression):
                return None
            self._apm = self._rtc.AudioProcessingModule(
                echo_cancellation=self.echo_cancellation,
                noise_suppression=self.noise_suppression,
                high_pass_filter=True,
                auto_gain_control=False,
            )
            return self._apm
