"""How a lower layer of a source is encoded: its x264 settings, chosen by its size.

A lower layer (:mod:`.layers`) is a fallback for viewers whose path cannot carry the one
above, encoded beside the top layer on the publisher's two cores, 30 pictures a second;
whatever it costs comes on top of the top layer. Figures below are for the synthetic
scene scaled from 1080p; ``python -m bench.layers`` measures the whole ladder.

* **One thread up to 720p.** Given its choice, x264 runs two slice threads and two
  lookahead threads beside the encoder's own, which wake for every picture; for a small
  picture the hand-offs cost more than they save. Encoding the 720p layer on one thread
  took 4.8 ms of CPU a picture instead of 5.3-6.0 ms (4.6 instead of 3.6 ms from frame to
  packet), the 360p layer 1.1-1.6 instead of 1.4-2.1 ms, at the same bitrate.
* **One preset faster above 360p.** x264's ``ultrafast`` with its deblocking filter kept
  (:class:`~.encoder.EncoderSettings` ``deblock``) instead of ``superfast`` made the 720p
  layer (1.5 Mbit/s) 30% cheaper (3.6 vs 5.7 ms a picture moving, 4.0 vs 5.2 still)
  at the same quality: luma PSNR 49.4 vs 49.0 dB with the scope moving, 51.0 vs 51.7 dB
  still, SSIM within 0.0003, bitrate within 1%. At 360p the same step saved only 0.3-0.7
  ms but lost 0.8-2.5 dB, so smaller layers keep the top's preset.
"""

from __future__ import annotations

from surgery_teach.media.encoder import EncoderSettings
from surgery_teach.media.ladder import MIN_BITRATE, Layer

X264_PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow",
                "slower", "veryslow", "placebo")
SINGLE_THREAD_PIXELS = 1280 * 720  # up to this a lower layer is encoded on one thread
FASTER_PRESET_PIXELS = 640 * 360  # above this a lower layer gets one preset faster


def faster_preset(preset: str) -> str:
    """The x264 preset one step faster than ``preset`` (``ultrafast`` stays; a name x264's
    list does not have is kept as it is)."""
    if preset not in X264_PRESETS:
        return preset
    return X264_PRESETS[max(0, X264_PRESETS.index(preset) - 1)]


def lower_layer_settings(layer: Layer, divisor: int, top: EncoderSettings) -> EncoderSettings:
    """The settings of ``layer`` sent every ``divisor``-th frame, under a top layer encoded
    with ``top``: the layer's size and bitrate, the top's keyframe rules, and threads and
    preset by the layer's size (see the module's notes)."""
    pixels = layer.width * layer.height
    return EncoderSettings(
        width=layer.width, height=layer.height,
        bitrate=max(MIN_BITRATE, layer.bitrate // divisor),
        preset=faster_preset(top.preset) if pixels > FASTER_PRESET_PIXELS else top.preset,
        keyframe_interval=top.keyframe_interval,
        min_keyframe_gap=top.min_keyframe_gap,
        frame_divisor=divisor,
        threads=1 if pixels <= SINGLE_THREAD_PIXELS else 0,
        deblock=True,
    )
