"""Light receivers count video from SRTP packets' clear-text headers, without decrypting."""

from __future__ import annotations

import pytest
from pylibsrtp import Policy, Session

from bench.rtp_count import RtpCounter, RtpHeader, is_media, parse_header

SSRC = bytes.fromhex("0badcafe")


def rtp(seq: int, stamp: int, *, marker: bool = False, payload: bytes = b"\x65" * 40) -> bytes:
    """An RTP packet, H.264 payload type 102, from literal fields."""
    return (bytes([0x80, (0x80 if marker else 0) | 102]) + seq.to_bytes(2, "big")
            + stamp.to_bytes(4, "big") + SSRC + payload)


SENDER_REPORT = bytes.fromhex("80c80006" "0badcafe" "e9a1b2c3d4e5f607" "00015f90"
                              "0000012c" "00025800")
STUN_BINDING = bytes.fromhex("00010000" "2112a442" "000000000000000000000001")
DTLS_RECORD = bytes.fromhex("17fefd0001000000000005001a") + b"\x00" * 26


def test_the_fixed_header_is_read_from_literal_bytes() -> None:
    packet = bytes.fromhex("80e6" "1234" "0001f7a0" "0badcafe") + b"\x7c\x85"
    assert parse_header(packet) == RtpHeader(marker=True, payload_type=102,
                                             sequence_number=0x1234, timestamp=0x1F7A0,
                                             ssrc=0x0BADCAFE)
    assert parse_header(rtp(7, 3000)).marker is False


def test_only_media_packets_count_not_rtcp_stun_or_dtls() -> None:
    assert is_media(rtp(1, 0))
    for other in (SENDER_REPORT, STUN_BINDING, DTLS_RECORD, b"\x80\xe6\x00"):
        assert not is_media(other)
        with pytest.raises(ValueError, match="not an RTP media packet"):
            parse_header(other)
    counter = RtpCounter()
    assert counter.count(SENDER_REPORT) is False
    assert counter.packets == 0


def test_the_header_of_an_srtp_packet_is_readable_without_its_key() -> None:
    policy = Policy(key=bytes(range(30)), ssrc_type=Policy.SSRC_ANY_OUTBOUND)
    plain = rtp(0xBEEF, 123456, marker=True, payload=b"secret picture" * 20)
    protected = Session(policy).protect(plain)
    assert protected[:12] == plain[:12]
    assert b"secret picture" not in protected
    assert parse_header(protected) == parse_header(plain)
    counter = RtpCounter()
    assert counter.count(protected)
    assert (counter.packets, counter.frames, counter.bytes) == (1, 1, len(protected))


def test_sequence_gaps_count_as_lost_and_wrap_around_does_not() -> None:
    counter = RtpCounter()
    for seq in (65533, 65534, 65535, 0, 1, 4, 2, 5):  # 2 and 3 missing, then 2 late
        counter.count(rtp(seq, 0))
    assert counter.packets == 8
    assert counter.lost == 2  # 2 and 3 when 4 came; the late 2 does not undo it


def test_frames_are_counted_on_marker_bits_and_rates_from_both_clocks() -> None:
    """Frames arrive 0.05 s apart (a starved receiver) but were sent at 30 fps."""
    arrivals = iter(n * 0.05 for n in range(100))
    counter = RtpCounter(clock=lambda: next(arrivals), wall_clock=lambda: 0.0)
    for frame in range(31):
        stamp = frame * 3000  # 90 kHz clock, 30 fps
        counter.count(rtp(2 * frame, stamp))
        counter.count(rtp(2 * frame + 1, stamp, marker=True))
    assert counter.frames == 31
    summary = counter.summary(0.0, 10.0)
    assert summary["fps"] == pytest.approx(20.0)
    assert summary["media_fps"] == pytest.approx(30.0)
    assert summary["longest_gap_s"] == pytest.approx(0.05)
    # two 52-byte packets per frame, 20 frames a second on arrival
    assert summary["kbit_per_s"] == pytest.approx(2 * 52 * 8 * 20 / 1000, abs=0.05)
    assert summary["packets_per_s"] == pytest.approx(40.0)
    assert counter.summary(0.5, 0.6)["fps"] == 0.0  # too few frames in that stretch
