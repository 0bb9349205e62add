"""Streaming a published case: range requests, and PyAV decoding through them."""

from __future__ import annotations

from pathlib import Path

import av
import pytest

from surgery_teach.caselibrary.media import RemoteMediaFile
from surgery_teach.caselibrary.passes import LibraryRole
from surgery_teach.caselibrary.publish import publish_case
from surgery_teach.caselibrary.wire import CaseSummary
from surgery_teach.errors import LibraryError
from tests.library_server.helpers import Certificate, LibraryThread, token

STUDENT = token(LibraryRole.STUDENT, ["hospital:zepu"], name="Aynur")


@pytest.fixture
def published(library: LibraryThread, certificate: Certificate, case: Path) -> CaseSummary:
    with library.connect(token(LibraryRole.MENTOR, ["hospital:zepu"]),
                         ca=certificate) as connection:
        return publish_case(case, connection).case


def _pts(container: av.container.InputContainer) -> list[int]:
    return [frame.pts for frame in container.decode(video=0)]


def test_a_range_request_gets_exactly_those_bytes(
    library: LibraryThread, certificate: Certificate, case: Path, published: CaseSummary
) -> None:
    local = (case / "endoscope.mkv").read_bytes()
    path = f"/cases/{published.id}/files/endoscope.mkv"
    with library.connect(STUDENT, ca=certificate) as connection:
        _status, headers, body = connection.request(
            "GET", path, headers={"Range": "bytes=1000-1999"}, ok=(206,))
        assert body == local[1000:2000]
        assert headers["Content-Range"] == f"bytes 1000-1999/{len(local)}"
        assert headers["Accept-Ranges"] == "bytes"
        _, _, tail = connection.request("GET", path, headers={"Range": "bytes=-500"}, ok=(206,))
        assert tail == local[-500:]
        with pytest.raises(LibraryError) as beyond:
            connection.request("GET", path, headers={"Range": f"bytes={len(local) + 10}-"})
        assert beyond.value.status == 416


def test_pyav_decodes_a_remote_source_frame_for_frame_like_the_local_file(
    library: LibraryThread, certificate: Certificate, case: Path, published: CaseSummary
) -> None:
    with av.open(str(case / "endoscope.mkv")) as local:
        expected = _pts(local)
    with library.connect(STUDENT, ca=certificate) as connection:
        remote = RemoteMediaFile(connection, published.id, "endoscope.mkv")
        with av.open(remote) as container:
            assert _pts(container) == expected
    assert len(expected) >= 90


def test_a_seek_fetches_only_what_it_needs(
    library: LibraryThread, certificate: Certificate, case: Path, published: CaseSummary
) -> None:
    """With small blocks and a small cache, a seek to 2.5 s and the frame decoded there
    read only the index and the cluster of that second (the last third of this 3 s file),
    not the file up to there."""
    with library.connect(STUDENT, ca=certificate) as connection:
        remote = RemoteMediaFile(connection, published.id, "endoscope.mkv",
                                 block_bytes=8 * 1024, ahead_blocks=2, cache_blocks=4)
        with av.open(remote) as container:
            stream = container.streams.video[0]
            remote.ranges.clear()
            container.seek(int(2.5 / stream.time_base), stream=stream, backward=True)
            frame = next(container.decode(stream))
        assert frame.pts is not None and frame.pts * stream.time_base >= 2.0
        assert remote.ranges and min(first for first, _ in remote.ranges) > remote.size / 2
