from __future__ import annotations

import pytest

from surgery_teach.media.keyframes import KeyframePolicy


def test_first_frame_is_a_keyframe() -> None:
    policy = KeyframePolicy(min_gap=0.5, interval=4.0)
    assert policy.should_force(10.0)


def test_request_soon_after_keyframe_is_deferred_not_dropped() -> None:
    policy = KeyframePolicy(min_gap=0.5, interval=4.0)
    policy.encoded(10.0, keyframe=True)
    policy.request()
    assert not policy.should_force(10.2)
    policy.encoded(10.2, keyframe=False)
    assert policy.pending
    assert policy.should_force(10.5)
    policy.encoded(10.5, keyframe=True)
    assert not policy.pending
    assert not policy.should_force(10.6)


def test_burst_of_requests_gives_one_keyframe() -> None:
    policy = KeyframePolicy(min_gap=0.5, interval=4.0)
    policy.encoded(0.0, keyframe=True)
    for _ in range(5):
        policy.request()
    forced = []
    for i in range(1, 40):
        now = i / 30
        force = policy.should_force(now)
        forced.append(force)
        policy.encoded(now, keyframe=force)
    assert forced.count(True) == 1


def test_periodic_keyframe_without_requests() -> None:
    policy = KeyframePolicy(min_gap=0.5, interval=2.0)
    policy.encoded(0.0, keyframe=True)
    assert not policy.should_force(1.99)
    assert policy.should_force(2.0)


def test_encoder_own_keyframe_resets_the_clock() -> None:
    policy = KeyframePolicy(min_gap=0.5, interval=2.0)
    policy.encoded(0.0, keyframe=True)
    policy.encoded(1.5, keyframe=True)
    assert not policy.should_force(3.0)


def test_rejects_nonsense_settings() -> None:
    with pytest.raises(ValueError):
        KeyframePolicy(min_gap=-1)
    with pytest.raises(ValueError):
        KeyframePolicy(interval=0)


def test_an_urgent_request_for_a_switching_viewer_waits_only_the_urgent_gap() -> None:
    policy = KeyframePolicy(min_gap=1.0, interval=60.0, urgent_gap=0.25)
    assert policy.should_force(0.0)
    policy.encoded(0.0, keyframe=True)
    policy.request()
    assert not policy.should_force(0.3)  # an ordinary request waits a second
    policy.request(urgent=True)
    assert policy.should_force(0.3)
    policy.encoded(0.3, keyframe=True)
    policy.request()
    assert not policy.should_force(0.6)  # the urgency went with that keyframe
