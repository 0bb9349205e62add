"""The aiortc adaptations: frames on the marker bit, bounded queues, keyframe forwarding."""

from __future__ import annotations

import asyncio

from aiortc.jitterbuffer import JitterBuffer
from aiortc.rtp import RtpPacket

from surgery_teach.rtc import video_buffer
from surgery_teach.rtc.aiortc_tuning import LatestQueue, MarkerJitterBuffer, tuning_supported


def packet(seq: int, timestamp: int, *, marker: bool, data: bytes) -> RtpPacket:
    p = RtpPacket(sequence_number=seq, timestamp=timestamp, marker=int(marker))
    p._data = data  # type: ignore[attr-defined]
    return p


def test_this_aiortc_is_supported() -> None:
    assert tuning_supported()


def test_frame_released_on_its_marker_packet_not_a_frame_later() -> None:
    stock = JitterBuffer(capacity=128, is_video=True)
    tuned = MarkerJitterBuffer(capacity=128, is_video=True)
    frame1 = [packet(100, 3000, marker=False, data=b"a"), packet(101, 3000, marker=True, data=b"b")]
    for buffer in (stock, tuned):
        assert buffer.add(frame1[0]) == (False, None)
    _, stock_frame = stock.add(frame1[1])
    _, tuned_frame = tuned.add(frame1[1])
    assert stock_frame is None  # stock waits for the next frame's first packet
    assert tuned_frame is not None
    assert (tuned_frame.data, tuned_frame.timestamp) == (b"ab", 3000)


def test_frames_come_out_in_order_with_their_own_data() -> None:
    buffer = MarkerJitterBuffer(capacity=128, is_video=True)
    out = []
    seq = 500
    for frame in range(5):
        ts = 3000 * frame
        for part in range(3):
            _, done = buffer.add(packet(seq, ts, marker=part == 2, data=bytes([frame, part])))
            seq += 1
            if done is not None:
                out.append((done.timestamp, done.data))
    assert out == [(3000 * f, bytes([f, 0, f, 1, f, 2])) for f in range(5)]


def test_a_gap_holds_the_frame_until_the_retransmission_arrives() -> None:
    buffer = MarkerJitterBuffer(capacity=128, is_video=True)
    assert buffer.add(packet(10, 90, marker=False, data=b"x"))[1] is None
    assert buffer.add(packet(12, 90, marker=True, data=b"z"))[1] is None  # 11 is missing
    _, done = buffer.add(packet(11, 90, marker=False, data=b"y"))
    assert done is not None and done.data == b"xyz"


def test_frame_without_marker_is_released_when_the_next_frame_starts() -> None:
    buffer = MarkerJitterBuffer(capacity=128, is_video=True)
    buffer.add(packet(1, 90, marker=False, data=b"p"))
    _, done = buffer.add(packet(2, 180, marker=False, data=b"q"))
    assert done is not None and (done.timestamp, done.data) == (90, b"p")


async def test_latest_queue_keeps_only_the_newest_frames() -> None:
    queue = LatestQueue(keep=2)
    for i in range(10):
        queue.put_nowait(i)
    assert queue.qsize() == 2
    assert queue.dropped == 8
    assert [queue.get_nowait(), queue.get_nowait()] == [8, 9]


async def test_latest_queue_never_drops_the_end_of_stream_marker() -> None:
    queue = LatestQueue(keep=1)
    queue.put_nowait("frame")
    queue.put_nowait(None)
    got = [await asyncio.wait_for(queue.get(), 1) for _ in range(2)]
    assert got == ["frame", None]


IDR = b"\x00\x00\x00\x01\x67sps\x00\x00\x00\x01\x65idr"


def test_every_released_frame_also_reaches_the_recording_tap_marked_after_a_loss() -> None:
    buffer = MarkerJitterBuffer(capacity=16, is_video=True)
    seen: list[tuple[bytes, int, bool, bool]] = []
    buffer.tap.subscribe(lambda f: seen.append((f.data, f.timestamp, f.keyframe, f.after_loss)))
    assert buffer.add(packet(1, 90, marker=True, data=IDR))[1] is not None
    buffer.add(packet(2, 180, marker=True, data=b"\x00\x00\x00\x01\x41p"))
    lost, after = buffer.add(packet(40, 900, marker=True, data=b"\x00\x00\x00\x01\x41q"))
    assert lost and after is None  # 3..39 lost: a picture built on them would be smeared
    _, keyframe = buffer.add(packet(41, 990, marker=True, data=IDR))
    assert keyframe is not None and keyframe.timestamp == 990
    assert seen == [(IDR, 90, True, False), (b"\x00\x00\x00\x01\x41p", 180, False, False),
                    (IDR, 990, True, True)]
    assert buffer.frames_dropped == 1


def test_a_hole_not_repaired_in_time_is_skipped_and_nothing_shown_until_a_keyframe(
        monkeypatch) -> None:  # type: ignore[no-untyped-def]
    now = [100.0]
    monkeypatch.setattr(video_buffer.time, "monotonic", lambda: now[0])
    buffer = MarkerJitterBuffer(capacity=512, is_video=True)
    assert buffer.add(packet(10, 3000, marker=True, data=b"A"))[1] is not None
    # picture B loses its first packet (seq 11); picture C arrives complete behind it
    assert buffer.add(packet(12, 6000, marker=True, data=b"b2")) == (False, None)
    assert buffer.add(packet(13, 9000, marker=False, data=b"c1")) == (False, None)
    now[0] += video_buffer.HOLE_WAIT / 2
    assert buffer.add(packet(14, 9000, marker=True, data=b"c2")) == (False, None)  # waits
    now[0] += video_buffer.HOLE_WAIT
    lost, frame = buffer.add(packet(15, 12000, marker=True, data=b"D"))
    assert lost and buffer.holes_skipped == 1  # gave up on B: a keyframe is asked for
    assert frame is None and buffer.frames_dropped == 2  # C and D were built on B
    _, keyframe = buffer.add(packet(16, 15000, marker=True, data=IDR))
    assert keyframe is not None and keyframe.timestamp == 15000
    _, after = buffer.add(packet(17, 18000, marker=True, data=b"F"))
    assert after is not None and after.timestamp == 18000  # then everything again


def test_a_resend_within_the_wait_fills_the_hole(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    now = [100.0]
    monkeypatch.setattr(video_buffer.time, "monotonic", lambda: now[0])
    buffer = MarkerJitterBuffer(capacity=512, is_video=True)
    buffer.add(packet(10, 3000, marker=True, data=b"A"))
    buffer.add(packet(12, 6000, marker=True, data=b"b2"))
    buffer.add(packet(13, 9000, marker=True, data=b"C"))
    now[0] += video_buffer.HOLE_WAIT / 2
    lost, frame = buffer.add(packet(11, 6000, marker=False, data=b"b1"))  # the resend
    assert not lost and buffer.holes_skipped == 0
    assert frame is not None and (frame.timestamp, frame.data) == (6000, b"b1b2")


def test_a_packet_asked_for_again_and_again_is_resent_a_few_times_within_budget(
        monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from surgery_teach.rtc import aiortc_tuning

    now = [50.0]
    monkeypatch.setattr(aiortc_tuning.time, "monotonic", lambda: now[0])

    class Sender:  # only the round trip is read
        _RTCRtpSender__rtt = 0.01

    budget = [aiortc_tuning.RESEND_LIMIT * 1000 + 500]

    def allow(size: int) -> bool:
        budget[0] -= size
        return budget[0] >= 0

    watch = aiortc_tuning.SenderWatch(Sender(), lambda report: None, allow)  # type: ignore[arg-type]
    assert watch.should_resend(7, 1000)
    assert not watch.should_resend(7, 1000)  # asked again at once: once per gap
    sent = 1
    for _ in range(10):
        now[0] += aiortc_tuning.RESEND_GAP
        sent += watch.should_resend(7, 1000)
    assert sent == aiortc_tuning.RESEND_LIMIT
    assert watch.retransmitted_bytes == aiortc_tuning.RESEND_LIMIT * 1000
    assert not watch.should_resend(8, 1000) and watch.refused_bytes == 1000  # over budget


def test_frames_waiting_behind_a_repaired_hole_all_go_to_the_decoder_at_once() -> None:
    buffer = MarkerJitterBuffer(capacity=512, is_video=True)
    decoded: list[int] = []
    buffer.deliver = lambda packet, frame: decoded.append(frame.timestamp)
    buffer.add(packet(10, 3000, marker=True, data=b"A"))
    for seq, ts in ((12, 6000), (13, 9000), (14, 12000), (15, 15000)):
        buffer.add(packet(seq, ts, marker=True, data=b"x"))  # B lost its first packet (11)
    assert decoded == [3000]  # everything waits behind the hole
    buffer.add(packet(11, 6000, marker=False, data=b"b1"))  # the resend
    # stock aiortc would let one frame out per later packet: the delay would stay
    assert decoded == [3000, 6000, 9000, 12000, 15000]
    buffer.add(packet(16, 18000, marker=True, data=b"F"))
    assert decoded[-1] == 18000


def test_a_complete_keyframe_behind_a_hole_is_shown_at_once_and_the_hole_forgotten() -> None:
    buffer = MarkerJitterBuffer(capacity=512, is_video=True)
    decoded: list[int] = []
    forgotten: list[int] = []
    buffer.deliver = lambda packet, frame: decoded.append(frame.timestamp)
    buffer.on_skipped = forgotten.append
    recorded: list[tuple[int, bool]] = []
    buffer.tap.subscribe(lambda f: recorded.append((f.timestamp, f.after_loss)))
    buffer.add(packet(10, 3000, marker=True, data=b"A"))
    # a better layer's keyframe lost most of its packets (11..13 never come) ...
    buffer.add(packet(14, 6000, marker=True, data=b"x"))
    # ... and the next keyframe (SPS first, in two packets) arrives whole behind the hole
    lost, _ = buffer.add(packet(15, 9000, marker=False, data=IDR[:9]))
    assert not lost and decoded == [3000]
    lost, _ = buffer.add(packet(16, 9000, marker=True, data=IDR[9:]))
    assert not lost  # the keyframe is here: no keyframe request to the shared encoder
    assert recorded == [(3000, False), (9000, True)]  # the recorder hears of the gap
    assert decoded == [3000, 9000] and buffer.keyframe_jumps == 1
    assert forgotten == [14]  # nothing up to there is asked for again
    buffer.add(packet(17, 12000, marker=True, data=b"F"))
    assert decoded == [3000, 9000, 12000]


def test_a_keyframe_whose_start_may_be_missing_still_waits_for_the_hole() -> None:
    buffer = MarkerJitterBuffer(capacity=512, is_video=True)
    decoded: list[int] = []
    buffer.deliver = lambda packet, frame: decoded.append(frame.timestamp)
    buffer.add(packet(10, 3000, marker=True, data=b"A"))
    # 11 is missing and might be the keyframe's first packet (its SPS): no jump
    buffer.add(packet(12, 9000, marker=False, data=b"\x00\x00\x00\x01\x65idr-part"))
    buffer.add(packet(13, 9000, marker=True, data=b"rest"))
    assert decoded == [3000] and buffer.keyframe_jumps == 0
    buffer.add(packet(11, 9000, marker=False, data=b"\x00\x00\x00\x01\x67sps"))  # the resend
    assert decoded == [3000, 9000]


def test_a_clean_picture_that_is_no_keyframe_does_not_jump_the_hole() -> None:
    buffer = MarkerJitterBuffer(capacity=512, is_video=True)
    decoded: list[int] = []
    buffer.deliver = lambda packet, frame: decoded.append(frame.timestamp)
    buffer.add(packet(10, 3000, marker=True, data=b"A"))
    buffer.add(packet(12, 6000, marker=True, data=b"b2"))  # 11 missing
    buffer.add(packet(13, 9000, marker=True, data=b"\x00\x00\x00\x01\x41p"))  # a P picture
    assert decoded == [3000] and buffer.keyframe_jumps == 0


def test_a_hole_that_blocks_pictures_is_asked_for_again_at_a_steady_pace(
        monkeypatch) -> None:  # type: ignore[no-untyped-def]
    now = [100.0]
    monkeypatch.setattr(video_buffer.time, "monotonic", lambda: now[0])
    buffer = MarkerJitterBuffer(capacity=512, is_video=True)
    asked: list[tuple[int, list[int]]] = []
    buffer.ask_again = lambda ssrc, seqs: asked.append((ssrc, seqs))
    buffer.add(packet(10, 3000, marker=True, data=b"A"))
    buffer.add(packet(13, 6000, marker=True, data=b"B"))  # 11 and 12 are missing
    assert asked == []  # aiortc's own NACK went out on noticing the loss
    now[0] += video_buffer.ASK_AGAIN_GAP / 2
    buffer.add(packet(14, 9000, marker=True, data=b"C"))
    assert asked == []  # too soon: the resend may be on its way
    now[0] += video_buffer.ASK_AGAIN_GAP
    buffer.add(packet(15, 12000, marker=True, data=b"D"))
    assert asked == [(0, [11, 12])]
    buffer.add(packet(11, 3300, marker=False, data=b"b1"))  # one resend arrives
    now[0] += video_buffer.ASK_AGAIN_GAP
    buffer.add(packet(16, 15000, marker=True, data=b"E"))
    assert asked[-1] == (0, [12]) and buffer.asked_again == 2


def test_padding_repeats_the_newest_packets_even_across_the_sequence_wrap() -> None:
    from aiortc.rtp import RTP_HISTORY_SIZE

    from surgery_teach.rtc.link_probe import newest_packets

    history = {}
    for seq in [*range(65500, 65536), *range(0, 20)]:  # wraps at 65535 -> 0
        history[seq % RTP_HISTORY_SIZE] = packet(seq, 0, marker=False, data=b"")
    assert [p.sequence_number for p in newest_packets(history, 4)] == [16, 17, 18, 19]
    full = {seq % RTP_HISTORY_SIZE: packet(seq, 0, marker=False, data=b"")
            for seq in range(1000, 1300)}  # older packets overwritten in the ring
    assert [p.sequence_number for p in newest_packets(full, 3)] == [1297, 1298, 1299]
    assert newest_packets({}, 4) == []


def test_a_late_resend_of_a_picture_already_shown_is_dropped_and_asks_for_nothing(
        monkeypatch) -> None:  # type: ignore[no-untyped-def]
    now = [100.0]
    monkeypatch.setattr(video_buffer.time, "monotonic", lambda: now[0])
    buffer = MarkerJitterBuffer(capacity=512, is_video=True)
    asked: list[list[int]] = []
    buffer.ask_again = lambda ssrc, seqs: asked.append(seqs)
    decoded: list[int] = []
    buffer.deliver = lambda packet, frame: decoded.append(frame.timestamp)
    buffer.add(packet(10, 3000, marker=True, data=b"A"))
    buffer.add(packet(12, 6000, marker=True, data=b"B"))  # 11 missing
    buffer.add(packet(13, 9000, marker=True, data=b"C"))  # C waits behind the hole
    now[0] += video_buffer.ASK_AGAIN_GAP * 2
    buffer.add(packet(10, 3000, marker=True, data=b"A"))  # a duplicate of what was shown
    assert asked == [] and buffer.late == 1 and decoded == [3000]
    buffer.add(packet(14, 12000, marker=True, data=b"D"))
    assert asked == [[11]]  # only what is really missing
