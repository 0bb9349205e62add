"""A received picture is decoded only at the size its share announced (no bombs)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from surgery_teach.errors import ShareError
from surgery_teach.sharing import decode_picture
from surgery_teach.sharing.outgoing import picture_size


def encoded(width: int, height: int, ext: str) -> bytes:
    ok, data = cv2.imencode(ext, np.zeros((height, width, 3), np.uint8))
    assert ok
    return data.tobytes()


@pytest.mark.parametrize("ext", [".png", ".jpg"])
def test_the_header_gives_the_size_without_decoding(ext: str) -> None:
    assert picture_size(encoded(640, 360, ext)) == (640, 360)
    assert decode_picture(encoded(640, 360, ext), (640, 360)).shape == (360, 640, 3)


def test_a_small_file_that_unpacks_huge_is_refused_before_it_is_decoded() -> None:
    bomb = encoded(9000, 9000, ".png")  # ~80 KB of zeros, 243 MB once decoded
    assert len(bomb) < 1_000_000
    with pytest.raises(ShareError, match="size does not match"):
        decode_picture(bomb, (10, 10))  # what its description claimed
    with pytest.raises(ShareError, match="size does not match"):
        decode_picture(bomb)  # over the largest side a share may have


def test_a_picture_whose_header_lies_is_refused() -> None:
    png = bytearray(encoded(64, 48, ".png"))
    png[16:20] = (32).to_bytes(4, "big")  # the header says 32 wide
    with pytest.raises(ShareError):
        decode_picture(bytes(png), (32, 48))
