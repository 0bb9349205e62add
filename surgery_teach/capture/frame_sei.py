"""Which captured frame a picture is, carried inside the H.264 stream itself.

Every encoded picture gets an SEI message (user data unregistered, H.264 D.1.6) with our
own UUID, the source's frame number and its capture time, inserted before the picture's
first slice. It travels wherever the picture goes (peer to peer, through Janus, into the
recording) and decoders ignore it; FFmpeg hands it back as the decoded frame's side data.
So a viewer knows which captured frame is on screen for any camera, not only for the
synthetic laparoscope's pixel stamp: marks anchored to tissue are placed through the pose
of that very frame, and the recording knows it frame-exactly. It costs 30-odd bytes a
picture (about 8 kbit/s at 30 fps).
"""

from __future__ import annotations

import struct
import uuid

import av

FRAME_SEI_UUID = uuid.UUID("5e7c1f0a-3b2d-4c8e-9a61-7d2f04b8c3e5").bytes
_PAYLOAD = struct.Struct(">Id")  # frame number (mod 2**32), capture time (s, wall clock)
_START = b"\x00\x00\x00\x01"
_SEI_NAL = 6
_USER_DATA_UNREGISTERED = 5
_SLICES = (1, 5)  # a non-IDR and an IDR slice


def sei_nal(seq: int, captured_at: float) -> bytes:
    """The Annex B SEI NAL unit (start code included) naming frame ``seq``."""
    payload = FRAME_SEI_UUID + _PAYLOAD.pack(seq % 2**32, captured_at)
    rbsp = bytes([_USER_DATA_UNREGISTERED, len(payload)]) + payload + b"\x80"
    return _START + bytes([_SEI_NAL]) + _escape(rbsp)


def with_frame_sei(data: bytes, seq: int, captured_at: float) -> bytes:
    """``data`` (one Annex B access unit) with the SEI naming frame ``seq`` put before its
    first slice (or at the end if it has none, which an encoder does not make)."""
    nal = sei_nal(seq, captured_at)
    at = _first_slice(data)
    return data + nal if at is None else data[:at] + nal + data[at:]


def read_frame_sei(frame: av.VideoFrame) -> tuple[int, float] | None:
    """``(frame number, capture time)`` from a decoded picture's SEI, if it has ours."""
    for side in frame.side_data:
        if side.type is not av.sidedata.sidedata.Type.SEI_UNREGISTERED:
            continue
        raw = bytes(side)
        if len(raw) >= 16 + _PAYLOAD.size and raw[:16] == FRAME_SEI_UUID:
            seq, captured_at = _PAYLOAD.unpack_from(raw, 16)
            return int(seq), float(captured_at)
    return None


def _first_slice(data: bytes) -> int | None:
    """Where the start code of the first slice NAL unit in ``data`` begins."""
    i = 0
    while True:
        i = data.find(b"\x00\x00\x01", i)
        if i < 0 or i + 3 >= len(data):
            return None
        if data[i + 3] & 0x1F in _SLICES:
            return i - 1 if i > 0 and data[i - 1] == 0 else i
        i += 3


def _escape(rbsp: bytes) -> bytes:
    """Emulation prevention: a 0x03 after any two zero bytes followed by 0..3."""
    out = bytearray()
    zeros = 0
    for byte in rbsp:
        if zeros >= 2 and byte <= 3:
            out.append(3)
            zeros = 0
        out.append(byte)
        zeros = zeros + 1 if byte == 0 else 0
    return bytes(out)
