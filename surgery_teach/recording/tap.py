"""The recorder's subscription to a :class:`SharedEncoder`: packets plus capture times.

A viewer's :class:`EncodedTrack` hands out bare packets; the recorder also needs each
packet's capture time (to place the file on the capture clock) and must not wait for the
loop to ``recv()``. :class:`EncoderTap` is an :class:`EncodedTrack` that passes every
:class:`EncodedFrame` straight to a callback as the encoder delivers it, so recording
costs no extra encode and no extra hop on the loop.
"""

from __future__ import annotations

from collections.abc import Callable

from surgery_teach.media.encoder import EncodedFrame, EncodedTrack, SharedEncoder


class EncoderTap(EncodedTrack):
    """Calls ``sink(encoded)`` on the loop thread for each frame; ``sink`` must not block.

    Unlike a viewer's track it never drops frames itself: the sink owns the backlog
    policy. Stop it with :meth:`stop` (as the encoder does when it stops).
    """

    def __init__(self, encoder: SharedEncoder, sink: Callable[[EncodedFrame], None]) -> None:
        super().__init__(encoder)
        self._sink = sink

    def _offer(self, encoded: EncodedFrame) -> None:
        if self.readyState == "live":
            self._sink(encoded)


def tap_encoder(encoder: SharedEncoder, sink: Callable[[EncodedFrame], None]) -> EncoderTap:
    """Subscribe ``sink`` to ``encoder`` (on the loop thread); it starts at a keyframe soon."""
    tap = EncoderTap(encoder, sink)
    encoder.subscribe(tap)
    encoder.request_keyframe()
    return tap
