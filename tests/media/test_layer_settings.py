"""A lower layer's x264 settings, chosen by its size."""

from __future__ import annotations

from surgery_teach.media.encoder import EncoderSettings
from surgery_teach.media.ladder import Layer, ladder_for
from surgery_teach.media.layer_settings import faster_preset, lower_layer_settings


def test_presets_step_one_faster_and_ultrafast_stays() -> None:
    assert faster_preset("superfast") == "ultrafast"
    assert faster_preset("medium") == "fast"
    assert faster_preset("ultrafast") == "ultrafast"
    assert faster_preset("custom") == "custom"


def test_the_720p_layer_of_1080p_is_one_preset_faster_on_one_thread_with_deblocking() -> None:
    top = EncoderSettings(keyframe_interval=7.0, min_keyframe_gap=0.5)
    _, p720, p360 = ladder_for(1920, 1080, 30)
    settings = lower_layer_settings(p720, 1, top)
    assert (settings.width, settings.height, settings.bitrate) == (1280, 720, p720.bitrate)
    assert (settings.preset, settings.threads, settings.deblock) == ("ultrafast", 1, True)
    assert (settings.keyframe_interval, settings.min_keyframe_gap) == (7.0, 0.5)
    small = lower_layer_settings(p360, 1, top)
    assert (small.preset, small.threads) == ("superfast", 1)  # 360p keeps the top's preset


def test_a_layer_above_720p_lets_x264_choose_its_threads() -> None:
    _, p1440, _ = ladder_for(3840, 2160, 30)
    settings = lower_layer_settings(p1440, 1, EncoderSettings(preset="veryfast"))
    assert (settings.height, settings.threads, settings.preset) == (1440, 0, "superfast")


def test_a_slowed_layer_sends_its_share_of_the_bits_but_never_under_the_floor() -> None:
    layer = Layer("180p", 320, 180, 150_000, 30)
    assert lower_layer_settings(layer, 3, EncoderSettings()).bitrate == 50_000
    assert lower_layer_settings(layer, 3, EncoderSettings()).frame_divisor == 3
    assert lower_layer_settings(layer, 10, EncoderSettings()).bitrate == 30_000
