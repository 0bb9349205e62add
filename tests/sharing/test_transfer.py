"""The share's wire messages: parsed strictly from literal text, chunks checked, resumable."""

from __future__ import annotations

import hashlib
import json

import pytest

from surgery_teach.errors import ShareTransferError
from surgery_teach.sharing.outgoing import OutgoingShare
from surgery_teach.sharing.transfer import (
    Received,
    Resume,
    ShareHeader,
    ShareReceiver,
    ShareSender,
    Stop,
    chunk_message,
    parse_text,
)

ID = "0123456789abcdef0123456789abcdef"
DESCRIPTION = {"v": 1, "kind": "pdf", "format": "png", "width": 1654, "height": 2339,
               "index": 1, "count": 3, "window": None, "modality": "", "title": "ECG p.2",
               "masked": 0, "scaled": False, "bytes": 5000}


def _share(size: int = 5000) -> OutgoingShare:
    picture = bytes((i * 7) % 251 for i in range(size))
    return OutgoingShare(ID, picture, {**DESCRIPTION, "bytes": size})


def test_header_resume_received_and_stop_parse_from_literal_text() -> None:
    sha = "ab" * 32
    header = parse_text(
        '{"kind":"share","v":1,"id":"' + ID + '","bytes":5000,"sha256":"' + sha
        + '","chunk_bytes":2048,"description":' + json.dumps(DESCRIPTION) + "}")
    assert isinstance(header, ShareHeader) and header.chunks == 3 and header.sha256 == sha
    assert parse_text(header.text()) == header
    assert parse_text('{"kind":"share-resume","v":1,"id":"' + ID + '","from":2}') \
        == Resume(ID, 2)
    assert parse_text('{"kind":"share-received","v":1,"id":"' + ID + '"}') == Received(ID)
    assert parse_text('{"kind":"share-stop","v":1,"id":"' + ID + '"}') == Stop(ID)


@pytest.mark.parametrize("text,says", [
    ("not json", "not JSON"),
    ("[1]", "not a JSON object"),
    ('{"kind":"share-stop","v":2,"id":"' + ID + '"}', "version 2"),
    ('{"kind":"share-stop","v":1,"id":"../etc"}', "32 lowercase hex"),
    ('{"kind":"share-resume","v":1,"id":"' + ID + '","from":-1}', "'from' must be 0 or more"),
    ('{"kind":"share-resume","v":1,"id":"' + ID + '","from":true}', "'from' must be 0 or more"),
    ('{"kind":"share-grab","v":1,"id":"' + ID + '"}', "unknown share message kind"),
    ('{"kind":"share","v":1,"id":"' + ID + '","bytes":99999999,"sha256":"' + "a" * 64
     + '","chunk_bytes":2048,"description":{}}', "'bytes' must be from 1 to"),
    ('{"kind":"share","v":1,"id":"' + ID + '","bytes":10,"sha256":"xyz",'
     '"chunk_bytes":2048,"description":{}}', "'sha256'"),
    ('{"kind":"share","v":1,"id":"' + ID + '","bytes":10,"sha256":"' + "a" * 64
     + '","chunk_bytes":10,"description":{}}', "'chunk_bytes'"),
    ('{"kind":"share","v":1,"id":"' + ID + '","bytes":5000,"sha256":"' + "a" * 64
     + '","chunk_bytes":2048,"description":' + json.dumps({**DESCRIPTION, "width": 0}) + "}",
     "'width' must be from 1"),
    ('{"kind":"share","v":1,"id":"' + ID + '","bytes":5000,"sha256":"' + "a" * 64
     + '","chunk_bytes":2048,"description":' + json.dumps({**DESCRIPTION, "index": 3}) + "}",
     "'index'"),
    ('{"kind":"share","v":1,"id":"' + ID + '","bytes":5000,"sha256":"' + "a" * 64
     + '","chunk_bytes":2048,"description":' + json.dumps({**DESCRIPTION, "title": "a\nb"})
     + "}", "'title' must be one line"),
])
def test_malformed_messages_are_refused_naming_the_field(text: str, says: str) -> None:
    with pytest.raises(ShareTransferError, match=says):
        parse_text(text)


def test_chunks_reassemble_to_the_same_bytes_and_hash() -> None:
    sender = ShareSender(_share(), chunk_bytes=2048)
    receiver = ShareReceiver()
    assert receiver.on_header(parse_text(sender.header.text())) == Resume(ID, 0)  # type: ignore[arg-type]
    results = [receiver.on_chunk(c) for c in sender.chunks()]
    assert results[:2] == [None, None] and results[2] is not None
    assert results[2].picture == sender.share.picture
    assert hashlib.sha256(results[2].picture).hexdigest() == sender.header.sha256
    # the same header again (a link came back): nothing more is needed
    assert receiver.on_header(sender.header) == Received(ID)


def test_after_a_dropped_link_the_viewer_asks_only_for_what_it_lacks() -> None:
    sender = ShareSender(_share(20_000), chunk_bytes=1024)
    receiver = ShareReceiver()
    receiver.on_header(sender.header)
    for chunk in list(sender.chunks())[:7]:  # the link dropped after seven chunks
        assert receiver.on_chunk(chunk) is None
    resume = receiver.on_header(sender.header)  # announced again on the new link
    assert resume == Resume(ID, 7)
    done = [receiver.on_chunk(c) for c in sender.chunks(resume.start)][-1]  # type: ignore[union-attr]
    assert done is not None and done.picture == sender.share.picture


def test_a_corrupted_picture_fails_its_integrity_check_and_starts_over() -> None:
    sender = ShareSender(_share(), chunk_bytes=2048)
    receiver = ShareReceiver()
    receiver.on_header(sender.header)
    chunks = list(sender.chunks())
    flipped = bytearray(chunks[1])
    flipped[-1] ^= 0xFF
    receiver.on_chunk(chunks[0])
    receiver.on_chunk(bytes(flipped))
    with pytest.raises(ShareTransferError, match="integrity check"):
        receiver.on_chunk(chunks[2])
    assert receiver.next_chunk == 0 and receiver.complete is None


def test_chunks_out_of_order_or_of_the_wrong_size_are_refused() -> None:
    sender = ShareSender(_share(), chunk_bytes=2048)
    receiver = ShareReceiver()
    receiver.on_header(sender.header)
    chunks = list(sender.chunks())
    with pytest.raises(ShareTransferError, match="chunk 1 arrived, chunk 0 was expected"):
        receiver.on_chunk(chunks[1])
    with pytest.raises(ShareTransferError, match="holds 10 bytes, 2048 were expected"):
        receiver.on_chunk(chunk_message(ID, 0, b"x" * 10))
    with pytest.raises(ShareTransferError, match="not a share chunk"):
        receiver.on_chunk(b"\x89PNG....")


def test_a_new_share_replaces_the_one_held_and_stop_forgets_it() -> None:
    first = ShareSender(_share(), chunk_bytes=2048)
    receiver = ShareReceiver()
    receiver.on_header(first.header)
    receiver.on_chunk(next(first.chunks()))
    other_id = "f" * 32
    second = ShareSender(OutgoingShare(other_id, b"y" * 3000, {**DESCRIPTION, "bytes": 3000}),
                         chunk_bytes=2048)
    assert receiver.on_header(second.header) == Resume(other_id, 0)
    assert receiver.on_chunk(list(first.chunks())[1]) is None  # the old share's: dropped
    assert not receiver.on_stop(Stop(ID))
    assert receiver.on_stop(Stop(other_id)) and receiver.header is None


def test_deeply_nested_json_is_a_malformed_message_not_a_crash() -> None:
    """json.loads raises RecursionError (no ValueError) on deep nesting that fits the
    size limit; escaping the channel's handler it would close the whole connection."""
    from surgery_teach.errors import ShareTransferError
    from surgery_teach.sharing.transfer import parse_text

    with pytest.raises(ShareTransferError):
        parse_text("[" * 4000 + "]" * 4000)
