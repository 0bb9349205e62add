"""docs/security.md states every limit with the default the code has, and names options
that exist; the README links it."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from websockets.asyncio.client import connect

from signaling_server import ServerConfig, start_server
from signaling_server.__main__ import _parse_args, _parse_token_args
from signaling_server.config import TRANSPORT_MAX_BYTES, TRANSPORT_QUEUE
from signaling_server.handshake import SOCKETS_PER_CONNECTION
from signaling_server.server import KEEPALIVE_SECONDS, WRITE_LIMIT
from signaling_server.shares import (
    ROOM_SHARE_BYTES,
    UPLOAD_BYTE_BURST,
    UPLOAD_BYTES_PER_SECOND,
    UPLOAD_CHUNKS_PER_SECOND,
)
from signaling_server.state import MAX_JOURNAL_BYTES, MAX_QUEUED_BYTES
from surgery_teach.annotations.history import HISTORY_BYTES, MAX_UNDO
from surgery_teach.protocol import CHAT_HISTORY_LENGTH, DEFAULT_MAX_ROOM_SIZE, MAX_MESSAGE_BYTES
from surgery_teach.protocol.board_limits import BoardLimits
from surgery_teach.protocol.durable import (
    GHOSTS_PER_ADDRESS,
    MAX_GHOSTS,
    REMEMBERED_CHAT_BYTES,
    REMEMBERED_CHATS,
)
from surgery_teach.protocol.limits import Limits
from surgery_teach.protocol.messages.shares import MAX_SHARE_BYTES
from surgery_teach.protocol.passes import CLOCK_TOLERANCE
from surgery_teach.protocol.presence import REJOIN_GRACE
from surgery_teach.protocol.room import CHAT_HISTORY_BYTES, MAX_ROOMS
from surgery_teach.protocol.telestration import REMEMBERED_BYTES, REMEMBERED_REFS
from surgery_teach.protocol.tokens import MAX_TOKEN_CHARS, MIN_SECRET_BYTES, parse_duration
from tests.timing import seconds

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "security.md"


def _defaults_table() -> dict[str, list[str]]:
    section = DOC.read_text(encoding="utf-8").split("## 3. Defaults")[1].split("## 4.")[0]
    rows = {}
    for line in section.splitlines():
        if line.startswith("| ") and not line.startswith(("| limit ", "|---")):
            first, *cells = (cell.strip() for cell in line.strip().strip("|").split("|"))
            rows[first] = cells
    return rows


def _mib(n: int) -> str:
    return f"{n // 2**20} MiB"


def _kib(n: int) -> str:
    return f"{n // 1024} KiB"


def test_every_limit_is_listed_with_the_codes_default() -> None:
    limits = Limits()
    config = ServerConfig()
    board = config.board
    ttl_hours = parse_duration(_parse_token_args(["--room", "r", "--role", "mentor",
                                                  "--name", "n"]).ttl) / 3600
    expected = {
        "message size": f"{MAX_MESSAGE_BYTES // 1024} KiB",
        "message size the websocket layer takes in": _mib(TRANSPORT_MAX_BYTES),
        "messages read ahead while one is being handled": str(TRANSPORT_QUEUE),
        "message rate per connection": (
            f"{limits.message_burst} at once, then {limits.messages_per_second:g} a second"
        ),
        "byte rate per connection (its messages, and what its undo and redo send to the "
        "others)": (
            f"{_mib(limits.byte_burst)} at once, then {_kib(limits.bytes_per_second)} a second"
        ),
        "websocket connections per IP address": str(limits.connections_per_address),
        "TCP connections per IP address, handshakes under way included": (
            f"{SOCKETS_PER_CONNECTION * limits.connections_per_address} (twice the above)"
        ),
        "opening handshake (TLS and websocket)": f"{limits.open_timeout:g} s",
        "idle connection (nothing received, not even a websocket ping)": (
            f"{limits.idle_timeout:g} s"
        ),
        "keepalive": (
            f"ping every {KEEPALIVE_SECONDS:g} s, {KEEPALIVE_SECONDS:g} s to answer"
        ),
        "replies queued before the server waits for the sender to read": (
            f"{WRITE_LIMIT // 1024} KiB"
        ),
        "messages queued for a participant who does not read": _mib(limits.send_buffer_bytes),
        "participants per room": str(ServerConfig().max_room_size),
        "chat kept per room": f"{CHAT_HISTORY_LENGTH} messages, {_kib(CHAT_HISTORY_BYTES)}",
        "chat message ids remembered per room (taken once)": (
            f"{REMEMBERED_CHATS}, {_kib(REMEMBERED_CHAT_BYTES)} of messages"),
        "marks and pointers on a room's board": str(board.marks),
        "freehand points on a room's board": str(board.points),
        "pinned marks per participant on a room's board": str(board.pinned_per_author),
        "a room's board as a late joiner's snapshot": _kib(board.snapshot_bytes),
        "pictures of a room held on a frame": str(board.held),
        "undo history per participant": f"{MAX_UNDO} steps, {_kib(HISTORY_BYTES)} of marks",
        "annotate ids remembered per room (taken once)": (
            f"{REMEMBERED_REFS}, {_kib(REMEMBERED_BYTES)} of ops"),
        "rooms on the server": str(config.max_rooms),
        "participants waiting to rejoin, per IP address": (
            f"{GHOSTS_PER_ADDRESS} (as many as its connections)"),
        "participants waiting to rejoin on the server": str(config.max_waiting),
        "rejoin grace": f"{config.rejoin_grace:g} s",
        "a room's journal on disk (`--state-dir`)": _mib(MAX_JOURNAL_BYTES),
        "lines waiting for the disk (`--state-dir`)": _mib(MAX_QUEUED_BYTES),
        "room token": f"{MAX_TOKEN_CHARS} characters",
        "clock difference accepted for a token": f"{CLOCK_TOLERANCE:g} s",
        "token lifetime": f"{ttl_hours:g} h",
        "token secret": f"at least {MIN_SECRET_BYTES} bytes",
        "listening without a token secret": "loopback addresses only",
        "permessage-deflate compression": "off",
        "share chunks per connection (binary frames, protocol §8.s.1)": (
            f"{_mib(UPLOAD_BYTE_BURST)} and {UPLOAD_CHUNKS_PER_SECOND} chunks at once, then "
            f"{_mib(UPLOAD_BYTES_PER_SECOND)} and {UPLOAD_CHUNKS_PER_SECOND} chunks a second"),
        "shared pictures the server keeps (memory)": (
            f"{_mib(MAX_SHARE_BYTES)} each, one per sharer, {_mib(ROOM_SHARE_BYTES)} per room"),
    }
    assert SOCKETS_PER_CONNECTION == 2  # "twice"
    assert GHOSTS_PER_ADDRESS == limits.connections_per_address  # "as many as"
    assert (config.max_rooms, config.max_waiting) == (MAX_ROOMS, MAX_GHOSTS)
    assert config.rejoin_grace == REJOIN_GRACE
    assert board == BoardLimits() and board.history_bytes == HISTORY_BYTES
    assert ServerConfig().max_room_size == DEFAULT_MAX_ROOM_SIZE
    table = _defaults_table()
    assert set(table) == set(expected)
    for limit, default in expected.items():
        assert table[limit][0] == default, limit


def test_every_per_client_limit_of_the_code_is_in_the_table() -> None:
    """A new field of Limits needs a row (and this mapping)."""
    rows = {
        "messages_per_second": "message rate per connection",
        "message_burst": "message rate per connection",
        "connections_per_address": "websocket connections per IP address",
        "open_timeout": "opening handshake (TLS and websocket)",
        "idle_timeout": "idle connection (nothing received, not even a websocket ping)",
        "send_buffer_bytes": "messages queued for a participant who does not read",
        "bytes_per_second": "byte rate per connection (its messages, and what its undo and "
        "redo send to the others)",
        "byte_burst": "byte rate per connection (its messages, and what its undo and redo "
        "send to the others)",
    }
    assert {field.name for field in dataclasses.fields(Limits)} == set(rows)
    assert set(rows.values()) <= set(_defaults_table())


def test_the_options_named_exist_and_default_to_the_table() -> None:
    options = vars(_parse_args([]))
    limits = Limits()
    for cells in _defaults_table().values():
        for option in cells[2].replace("`", "").split(", "):
            if option.startswith("--"):
                assert option.removeprefix("--").replace("-", "_") in options, option
    assert options["max_connections_per_address"] == limits.connections_per_address
    assert options["messages_per_second"] == limits.messages_per_second
    assert options["message_burst"] == limits.message_burst
    assert options["idle_timeout"] == limits.idle_timeout
    assert options["max_room_size"] == ServerConfig().max_room_size


async def test_the_server_indeed_offers_no_compression() -> None:
    server = await start_server(ServerConfig(port=0))
    try:
        async with connect(server.url, open_timeout=seconds(5)) as link:  # offers deflate
            assert link.protocol.extensions == []
    finally:
        await server.close()


def test_the_readme_links_the_security_document() -> None:
    assert "(docs/security.md)" in (ROOT / "README.md").read_text(encoding="utf-8")
