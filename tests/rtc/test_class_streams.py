"""Stream descriptions of a class room's published m-lines, from literal strings."""

from __future__ import annotations

import pytest

from surgery_teach.errors import MediaServerError
from surgery_teach.janus.videoroom import PublishedStream, Publisher
from surgery_teach.rtc.class_streams import (
    MAX_DESCRIPTION,
    LayerStream,
    describe_voice,
    parse_description,
    read_feed,
)

TOP = ('{"v":1,"source":0,"layer":0,"w":1280,"h":720,"bps":2500000,"fps":30,'
       '"stamped":false,"label":"Laparoscope"}')
LOWER = ('{"v":1,"source":0,"layer":1,"w":640,"h":360,"bps":450000,"fps":30,'
         '"stamped":false,"label":"Laparoscope"}')


def test_a_layer_is_read_back_from_the_literal_a_publisher_writes() -> None:
    stream = parse_description(LOWER)
    assert stream == LayerStream(source=0, layer=1, label="Laparoscope", width=640,
                                 height=360, bitrate=450_000, fps=30.0)
    assert stream is not None and stream.describe() == LOWER.replace('"fps":30', '"fps":30.0')
    assert parse_description(describe_voice()) is None
    assert describe_voice() == '{"v":1,"voice":true}'


def test_a_long_label_is_cut_so_the_description_always_fits() -> None:
    stream = LayerStream(source=1, layer=2, label='"quoted" ' * 40, width=320, height=180,
                         bitrate=150_000, fps=30.0, stamped=True)
    text = stream.describe()
    assert len(text) <= MAX_DESCRIPTION
    parsed = parse_description(text)
    assert parsed is not None and parsed.label and stream.label.startswith(parsed.label)


@pytest.mark.parametrize("label", [("腹腔镜（主镜头）手术室三号台" * 5)[:64],
                                   ("Лапароскоп, операционная № 3, основная камера " * 2)[:64],
                                   'a "quoted" label' * 4])
def test_any_label_a_source_may_have_is_published_whole(label: str) -> None:
    """Labels are at most 64 characters (wire.fields); in any script they reach the
    viewers whole, so a source keeps its name when the room moves onto Janus."""
    assert len(label) == 64
    stream = LayerStream(source=7, layer=3, label=label, width=3840, height=2160,
                         bitrate=50_000_000, fps=59.94, stamped=True)
    text = stream.describe()
    assert len(text) <= MAX_DESCRIPTION
    parsed = parse_description(text)
    assert parsed is not None and parsed.label == label


@pytest.mark.parametrize(("text", "named"), [
    ("surgeon camera", "not JSON"),
    ('{"v":2,"voice":true}', "version 2"),
    ('[1, 2]', "version None"),
    (TOP.replace('"layer":0', '"layer":9'), "'layer'"),
    (TOP.replace('"w":1280', '"w":1281'), "even"),
    (TOP.replace('"bps":2500000', '"bps":true'), "'bps'"),
    (TOP.replace('"fps":30', '"fps":0'), "fps"),
    (TOP.replace('"label":"Laparoscope"', '"label":7'), "label"),
    ("x" * (MAX_DESCRIPTION + 1), "too long"),
])
def test_descriptions_this_version_did_not_write_are_refused(text: str, named: str) -> None:
    with pytest.raises(MediaServerError, match=named):
        parse_description(text)


def test_a_viewer_rebuilds_each_source_s_ladder_and_finds_the_voice() -> None:
    second = TOP.replace('"source":0', '"source":1').replace("Laparoscope", "Room")
    gap = LOWER.replace('"source":0', '"source":1').replace('"layer":1', '"layer":2')
    publisher = Publisher(42, "p-surgeon", (
        PublishedStream("0", "video", LOWER, "h264"),
        PublishedStream("1", "video", TOP, "h264"),
        PublishedStream("2", "video", second, "h264"),
        PublishedStream("3", "video", gap, "h264"),  # layer 2 without a layer 1: left out
        PublishedStream("4", "video", "not ours", "h264"),
        PublishedStream("5", "audio", "", "opus"),
    ))
    feed = read_feed(publisher)
    assert (feed.feed_id, feed.display, feed.voice_mid) == (42, "p-surgeon", "5")
    first, room = feed.sources
    assert first.mids == ("1", "0") and [layer.name for layer in first.ladder] == [
        "720p", "360p"]
    assert first.mid(1) == "0" and first.label == "Laparoscope"
    assert room.index == 1 and room.mids == ("2",) and room.label == "Room"
