from __future__ import annotations

import pytest

from surgery_teach.errors import ConfigError
from surgery_teach.media.ladder import Layer, ladder_for, parse_bitrate, parse_ladder


def _shape(ladder: tuple[Layer, ...]) -> list[tuple[str, int, int, int]]:
    return [(layer.name, layer.width, layer.height, layer.bitrate) for layer in ladder]


def test_1080p_source_gets_1080_720_360() -> None:
    assert _shape(ladder_for(1920, 1080, 30)) == [
        ("1080p", 1920, 1080, 5_000_000),
        ("720p", 1280, 720, 1_500_000),
        ("360p", 640, 360, 450_000),
    ]


def test_720p_source_gets_720_360_180() -> None:
    assert _shape(ladder_for(1280, 720, 30)) == [
        ("720p", 1280, 720, 2_500_000),
        ("360p", 640, 360, 450_000),
        ("180p", 320, 180, 150_000),
    ]


def test_a_4_by_3_capture_keeps_its_shape_in_even_pixels() -> None:
    ladder = ladder_for(1440, 1080, 30)
    assert [(layer.width, layer.height) for layer in ladder] == [
        (1440, 1080), (960, 720), (480, 360)]
    odd = ladder_for(1024, 768, 25)
    for layer in odd:
        assert layer.width % 2 == 0 and layer.height % 2 == 0
        assert layer.width / layer.height == pytest.approx(1024 / 768, rel=0.02)


def test_more_frames_a_second_get_more_bits_and_every_layer_has_the_source_rate() -> None:
    at60 = ladder_for(1920, 1080, 60)
    at30 = ladder_for(1920, 1080, 30)
    assert all(a.bitrate > b.bitrate for a, b in zip(at60, at30, strict=True))
    assert {layer.fps for layer in at60} == {60}


def test_small_sources_get_fewer_layers_and_layers_can_be_limited() -> None:
    assert len(ladder_for(320, 240, 30)) == 1
    assert len(ladder_for(1920, 1080, 30, layers=2)) == 2
    assert len(ladder_for(1920, 1080, 30, layers=1)) == 1


def test_a_lower_top_bitrate_keeps_each_layer_below_half_the_one_above() -> None:
    ladder = ladder_for(1920, 1080, 30, top_bitrate=2_000_000)
    assert [layer.bitrate for layer in ladder] == [2_000_000, 1_000_000, 450_000]


def test_slowed_bottom_layer_has_fewer_frames_and_bits() -> None:
    bottom = ladder_for(1920, 1080, 30)[-1]
    slowed = [bottom.slowed(d) for d in (1, 2, 3, 6)]
    assert slowed[0] is bottom
    assert [s.fps for s in slowed] == [30, 15, 10, 5]
    assert [s.bitrate for s in slowed] == [450_000, 250_000, 180_000, 100_000]
    assert slowed[1].name == "360p@15fps"


@pytest.mark.parametrize(
    ("args", "words"),
    [
        ((1921, 1080, 30), "even"),
        ((1920, 1080, 30, {"layers": 0}), "layers must be 1 to 4"),
        ((1920, 1080, 30, {"top_bitrate": 10_000}), "bitrate must be"),
    ],
)
def test_bad_sources_are_refused_clearly(args: tuple, words: str) -> None:
    kwargs = args[3] if len(args) == 4 else {}
    with pytest.raises(ConfigError, match=words):
        ladder_for(*args[:3], **kwargs)


def test_parse_a_users_ladder_in_any_order() -> None:
    ladder = parse_ladder("640x360@400k, 1920x1080@5M,1280x720@1.5M", fps=30)
    assert _shape(ladder) == [
        ("1080p", 1920, 1080, 5_000_000),
        ("720p", 1280, 720, 1_500_000),
        ("360p", 640, 360, 400_000),
    ]
    assert ladder[0].fps == 30


def test_parse_a_layer_with_its_own_frame_rate() -> None:
    ladder = parse_ladder("1280x720@2.5M,640x360@0.3M@15fps", fps=30)
    assert [layer.fps for layer in ladder] == [30, 15]


def test_parse_bitrates() -> None:
    assert parse_bitrate("5M") == 5_000_000
    assert parse_bitrate("1.5m") == 1_500_000
    assert parse_bitrate("400k") == 400_000
    assert parse_bitrate("2500000") == 2_500_000
    assert parse_bitrate("800 kbit/s") == 800_000


@pytest.mark.parametrize(
    ("spec", "words"),
    [
        ("", "empty"),
        ("1920x1080", "WIDTHxHEIGHT@BITRATE"),
        ("1920*1080@5M", "should be WIDTHxHEIGHT"),
        ("1920x1080@fast", "bitrate 'fast' is not understood"),
        ("1921x1080@5M", "even number"),
        ("1920x1080@5M,1280x720@6M", "higher bitrate than the larger"),
        ("1280x720@2M,1280x720@1M", "two layers are 1280x720"),
        ("1280x720@2M@fast", "should look like 15fps"),
        ("1920x1080@5M,1280x720@1.5M,640x360@0.4M,320x180@0.2M,160x90@0.1M", "at most 4"),
        ("1920x1080@90M", "bitrate must be"),
    ],
)
def test_bad_specs_name_the_problem(spec: str, words: str) -> None:
    with pytest.raises(ConfigError, match=words):
        parse_ladder(spec, fps=30)


def test_spec_checked_against_the_source() -> None:
    with pytest.raises(ConfigError, match="larger than the source"):
        parse_ladder("1920x1080@5M", fps=30, source_size=(1280, 720))
    with pytest.raises(ConfigError, match="use a size such as 640x360"):
        parse_ladder("1280x720@2M,480x360@0.4M", fps=30, source_size=(1280, 720))
    assert len(parse_ladder("1280x720@2M,640x360@0.4M", fps=30, source_size=(1280, 720))) == 2
