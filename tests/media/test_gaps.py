"""The longest picture gap of a source counts across receivers (peer to peer, then the
media server), from the frame counts each receiver keeps."""

from __future__ import annotations

from types import SimpleNamespace

from surgery_teach.media.gaps import PictureGaps


def receiver(label: str) -> SimpleNamespace:
    return SimpleNamespace(label=label, stats=SimpleNamespace(frames=0))


def test_a_gap_spanning_two_receivers_of_one_source_is_measured() -> None:
    now = [0.0]
    direct, through_janus = receiver("Laparoscope"), receiver("Laparoscope")
    live = [direct]
    gaps = PictureGaps(lambda: live, clock=lambda: now[0])
    for t in (0.0, 0.1, 0.2):  # pictures every 100 ms peer to peer
        now[0] = t
        direct.stats.frames += 3
        gaps.sample()
    now[0] = 0.5  # the direct path ends; nothing new for a while
    live.remove(direct)
    gaps.sample()
    live.append(through_janus)
    now[0] = 0.9
    through_janus.stats.frames = 1  # the first picture through the media server
    gaps.sample()
    assert set(gaps.longest) == {"Laparoscope"}
    assert abs(gaps.longest["Laparoscope"] - 0.7) < 1e-9  # from 0.2 to 0.9


def test_sources_are_kept_apart_and_no_picture_means_no_gap() -> None:
    now = [0.0]
    a, b = receiver("Laparoscope"), receiver("Room camera")
    gaps = PictureGaps(lambda: [a, b], clock=lambda: now[0])
    for t in (0.0, 0.05, 2.0):
        now[0] = t
        a.stats.frames += 1
        gaps.sample()
    assert set(gaps.longest) == {"Laparoscope"}
    assert abs(gaps.longest["Laparoscope"] - 1.95) < 1e-9
    assert "Room camera" not in gaps.longest
