"""A case's media file on the library, read like a local file through HTTP range requests.

PyAV opens any object with ``read``/``seek``/``tell``: :class:`RemoteMediaFile` fetches
only the byte ranges the demuxer asks for, in aligned blocks kept in a small cache, and
reads further ahead while playback runs forward. So the player seeks in a four-hour case
without fetching it whole. Each file uses its own connection: one per decoding thread.
"""

from __future__ import annotations

import io
import re
from collections import OrderedDict, deque
from http.client import HTTPMessage
from typing import Final

from surgery_teach.caselibrary.connection import LibraryConnection
from surgery_teach.errors import LibraryError

BLOCK_BYTES: Final = 256 * 1024
AHEAD_BLOCKS: Final = 8  # 2 MB in one request once reading runs forward
CACHE_BLOCKS: Final = 96  # 24 MB
_CONTENT_RANGE: Final = re.compile(r"bytes (\d+)-(\d+)/(\d+)")


class RemoteMediaFile(io.RawIOBase):
    """The file ``name`` of library case ``case``, read-only and seekable."""

    def __init__(self, connection: LibraryConnection, case: str, name: str, *,
                 block_bytes: int = BLOCK_BYTES, ahead_blocks: int = AHEAD_BLOCKS,
                 cache_blocks: int = CACHE_BLOCKS, clip: bool = False) -> None:
        super().__init__()
        self._block_bytes = block_bytes
        self._ahead = ahead_blocks
        self._cache = cache_blocks
        self._connection = connection
        # a case's own file, or (``clip``) a clip a mentor added to it afterwards
        self._path = f"/cases/{case}/{'clips' if clip else 'files'}/{name}"
        self.name = name
        self._position = 0
        self._blocks: OrderedDict[int, bytes] = OrderedDict()
        self._last_block = -2
        self.requests = 0  # range requests made (how much seeking cost)
        self.fetched = 0  # bytes fetched
        self.ranges: deque[tuple[int, int]] = deque(maxlen=1000)  # the latest, first-last
        self.size = self._fetch(0, 1)

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if whence == io.SEEK_SET:
            position = offset
        elif whence == io.SEEK_CUR:
            position = self._position + offset
        elif whence == io.SEEK_END:
            position = self.size + offset
        else:
            raise ValueError(f"whence must be 0, 1 or 2, got {whence}")
        if position < 0:
            raise OSError(f"cannot seek to {position}, before the start of {self.name}")
        self._position = position
        return position

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        view = memoryview(buffer).cast("B")
        done = 0
        while done < len(view) and self._position < self.size:
            index, within = divmod(self._position, self._block_bytes)
            block = self._block(index)
            take = min(len(view) - done, len(block) - within)
            if take <= 0:
                break
            view[done:done + take] = block[within:within + take]
            done += take
            self._position += take
        return done

    def close(self) -> None:
        self._blocks.clear()
        super().close()

    def _block(self, index: int) -> bytes:
        block = self._blocks.get(index)
        if block is not None:
            self._blocks.move_to_end(index)
            return block
        forward = index in (self._last_block, self._last_block + 1)
        size = self._block_bytes
        count = self._ahead if forward else 1
        count = max(1, min(count, (self.size - 1) // size - index + 1))
        start = index * size
        end = min(self.size, (index + count) * size) - 1
        data = self._get(start, end)
        for n in range(count):
            piece = data[n * size:(n + 1) * size]
            if piece:
                self._blocks[index + n] = piece
        while len(self._blocks) > self._cache:
            self._blocks.popitem(last=False)
        self._last_block = index + count - 1
        return self._blocks[index]

    def _fetch(self, start: int, length: int) -> int:
        """Fetch the first bytes and return the file's size (from Content-Range)."""
        status, headers, _ = self._range(start, start + length - 1)
        found = _CONTENT_RANGE.fullmatch(headers.get("Content-Range", "") or "")
        if status != 206 or not found:
            raise LibraryError(f"the library did not answer a range request for {self.name}",
                               status=status, code="no-range")
        return int(found[3])

    def _get(self, start: int, end: int) -> bytes:
        status, _, data = self._range(start, end)
        if status != 206 or len(data) != end - start + 1:
            raise LibraryError(f"the library sent {len(data)} bytes of {self.name} for "
                               f"{end - start + 1} asked", status=status, code="short-read")
        return data

    def _range(self, start: int, end: int) -> tuple[int, HTTPMessage, bytes]:
        self.requests += 1
        self.ranges.append((start, end))
        status, headers, data = self._connection.request(
            "GET", self._path, headers={"Range": f"bytes={start}-{end}"}, ok=(206,))
        self.fetched += len(data)
        return status, headers, data
