"""The signaling server end to end: a real server on 127.0.0.1:0, real websocket clients."""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from signaling_server import RunningServer, ServerConfig, start_server
from signaling_server.server import TRANSPORT_MAX_BYTES
from surgery_teach.errors import ConfigError, SignalingError
from surgery_teach.protocol import (
    MAX_MESSAGE_BYTES,
    Answer,
    Candidate,
    Chat,
    ChatHistory,
    ChatMessage,
    ErrorCode,
    Join,
    Joined,
    Leave,
    Left,
    Offer,
    Ping,
    Pong,
    Publish,
    Publishes,
    Relayed,
    Role,
    Signal,
    TrackInfo,
    Updated,
)
from tests.signaling_server.conftest import Client, OpenClient, http_get
from tests.timing import seconds


async def test_participants_see_each_other_and_exchange_offer_and_answer(
    open_client: OpenClient,
) -> None:
    surgeon, mentor = await open_client(), await open_client()
    first = await surgeon.join("chole-2026-11-25", "Dr Wang", Role.SURGEON, Publishes(video=1))
    assert first.participants == ()
    assert first.you.id.startswith("p-")

    second = await mentor.join("chole-2026-11-25", "李明", Role.MENTOR)
    assert [p.id for p in second.participants] == [surgeon.id]
    joined = await surgeon.expect(Joined)
    assert (joined.participant.id, joined.participant.name) == (mentor.id, "李明")

    offer = Offer("v=0\r\n", (TrackInfo("t1", "Laparoscope", "synthetic:1280x720@30"),))
    await surgeon.send(Signal(mentor.id, offer))
    assert await mentor.recv() == Relayed(surgeon.id, offer)
    await mentor.send(Signal(surgeon.id, Answer("v=0\r\n")))
    assert await surgeon.recv() == Relayed(mentor.id, Answer("v=0\r\n"))
    candidate = Candidate("candidate:1 1 udp 2122260223 192.0.2.1 54400 typ host", "0", 0)
    await surgeon.send(Signal(mentor.id, candidate))  # the offerer trickles
    assert await mentor.recv() == Relayed(surgeon.id, candidate)


async def test_leave_and_disconnect_are_announced_to_the_room(open_client: OpenClient) -> None:
    stays, leaves, drops = await open_client(), await open_client(), await open_client()
    await stays.join("r", "Stays")
    await leaves.join("r", "Leaves", Role.TRAINEE)
    await stays.expect(Joined)
    await drops.join("r", "Drops", Role.STUDENT)
    await stays.expect(Joined)
    await leaves.expect(Joined)

    await leaves.send(Leave())
    left = await stays.expect(Left)
    assert (left.participant.id, left.reason) == (leaves.id, "leave")
    assert (await drops.expect(Left)).reason == "leave"

    await drops.connection.close()
    left = await stays.expect(Left)
    assert (left.participant.id, left.reason) == (drops.id, "disconnect")


@dataclass(frozen=True)
class Rooms2:
    """Two rooms: the troublemaker and a peer in one, two bystanders in the other."""

    troublemaker: Client
    peer: Client
    bystander: Client
    listener: Client


@pytest.fixture
async def two_rooms(open_client: OpenClient) -> Rooms2:
    troublemaker, peer = await open_client(), await open_client()
    bystander, listener = await open_client(), await open_client()
    await troublemaker.join("theatre-1", "T", Role.TRAINEE)
    await peer.join("theatre-1", "P", Role.MENTOR)
    await troublemaker.expect(Joined)
    await bystander.join("theatre-2", "B", Role.SURGEON)
    await listener.join("theatre-2", "L", Role.STUDENT)
    await bystander.expect(Joined)
    return Rooms2(troublemaker, peer, bystander, listener)


async def _still_fine(rooms: Rooms2) -> None:
    """The troublemaker's link works; nobody else saw anything but what follows."""
    await rooms.troublemaker.send(Ping(id="after"))
    assert isinstance(await rooms.troublemaker.recv(), Pong)
    await rooms.troublemaker.send(Signal(rooms.peer.id, Answer("v=0")))
    assert await rooms.peer.recv() == Relayed(rooms.troublemaker.id, Answer("v=0"))
    await rooms.bystander.send(Signal(rooms.listener.id, Answer("v=0")))
    assert await rooms.listener.recv() == Relayed(rooms.bystander.id, Answer("v=0"))


TOO_LARGE = "x" * (TRANSPORT_MAX_BYTES - 1)  # above the message limit, below the transport's

BAD_FRAMES = [
    pytest.param("garbage", ErrorCode.BAD_JSON, None, id="not-json"),
    pytest.param('{"v":1,"type":"ping"', ErrorCode.BAD_JSON, None, id="truncated-json"),
    pytest.param("[1,2,3]", ErrorCode.BAD_MESSAGE, None, id="json-array"),
    pytest.param(b'{"v":1,"type":"ping"}', ErrorCode.BAD_MESSAGE, None, id="binary-frame"),
    pytest.param('{"type":"ping","id":1}', ErrorCode.BAD_MESSAGE, 1, id="missing-v"),
    pytest.param('{"v":2,"type":"ping","id":"x"}', ErrorCode.UNSUPPORTED_VERSION, "x", id="v2"),
    pytest.param('{"v":1,"type":"dance","id":"d"}', ErrorCode.UNKNOWN_TYPE, "d", id="unknown-type"),
    pytest.param('{"v":1,"type":"welcome"}', ErrorCode.UNKNOWN_TYPE, None, id="server-type"),
    pytest.param(
        '{"v":1,"type":"join","room":7,"name":"N","role":"mentor","id":5}',
        ErrorCode.BAD_MESSAGE,
        5,
        id="wrong-field-type",
    ),
    pytest.param(
        '{"v":1,"type":"ping","id":"e","extra":true}', ErrorCode.BAD_MESSAGE, "e", id="extra-field"
    ),
    pytest.param(
        '{"v":1,"type":"join","room":"x","name":"N","role":"mentor","id":"j"}',
        ErrorCode.ALREADY_JOINED,
        "j",
        id="second-join",
    ),
    pytest.param(
        '{"v":1,"type":"signal","to":"p-00000000","data":{"kind":"answer","sdp":"v=0"},"id":2}',
        ErrorCode.UNKNOWN_PARTICIPANT,
        2,
        id="unknown-target",
    ),
    pytest.param(TOO_LARGE, ErrorCode.TOO_LARGE, None, id="nearly-a-megabyte"),
    pytest.param(
        '{"v":1,"type":"publish","publishes":{"video":1,"audio":true},"id":"pub"}',
        ErrorCode.FORBIDDEN,
        "pub",
        id="trainee-publishes-video",
    ),
    pytest.param(
        '{"v":1,"type":"publish","publishes":{"video":"two"}}',
        ErrorCode.BAD_MESSAGE,
        None,
        id="bad-publishes",
    ),
    pytest.param(
        '{"v":1,"type":"chat","text":" \\n "}', ErrorCode.BAD_MESSAGE, None, id="blank-chat"
    ),
    pytest.param(
        '{"v":1,"type":"chat","text":"bell\\u0007","id":8}',
        ErrorCode.BAD_MESSAGE,
        8,
        id="chat-control-character",
    ),
    pytest.param(
        '{"v":1,"type":"annotate","op":{"op":"undo"},"id":"a"}',
        ErrorCode.BAD_ANNOTATION,
        "a",
        id="malformed-annotation",
    ),
    pytest.param(
        '{"v":1,"type":"grant-draw","to":"p-00000000","allowed":true,"id":"g"}',
        ErrorCode.FORBIDDEN,
        "g",
        id="trainee-grants-drawing",
    ),
]


@pytest.mark.parametrize(("frame", "code", "ref"), BAD_FRAMES)
async def test_bad_frame_gets_its_error_and_disturbs_nobody(
    two_rooms: Rooms2, frame: str | bytes, code: str, ref: object
) -> None:
    await two_rooms.troublemaker.send(frame)
    error = await two_rooms.troublemaker.expect_error(code)
    assert error.ref == ref
    assert error.message
    await _still_fine(two_rooms)


async def test_signal_to_a_participant_in_another_room_is_not_delivered(
    two_rooms: Rooms2,
) -> None:
    await two_rooms.troublemaker.send(Signal(two_rooms.listener.id, Answer("v=0"), id="s"))
    error = await two_rooms.troublemaker.expect_error(ErrorCode.UNKNOWN_PARTICIPANT)
    assert error.ref == "s"
    await _still_fine(two_rooms)  # the listener's next message is the bystander's


async def test_messages_before_join_get_not_joined_and_ping_still_works(
    open_client: OpenClient,
) -> None:
    client = await open_client()
    await client.send(Signal("p-00000000", Answer("v=0")))
    await client.expect_error(ErrorCode.NOT_JOINED)
    await client.send(Leave(id=1))
    assert (await client.expect_error(ErrorCode.NOT_JOINED)).ref == 1
    await client.send(Chat("anyone there?", id=2))
    assert (await client.expect_error(ErrorCode.NOT_JOINED)).ref == 2
    await client.send(Publish(Publishes(audio=True), id=3))
    assert (await client.expect_error(ErrorCode.NOT_JOINED)).ref == 3
    await client.send(Ping())
    pong = await client.expect(Pong)
    assert (pong.rooms, pong.participants) == (0, 0)
    await client.join("r", "Late")


async def test_a_message_above_the_transport_limit_closes_only_that_connection(
    two_rooms: Rooms2,
) -> None:
    await two_rooms.troublemaker.send("x" * (TRANSPORT_MAX_BYTES + 1))
    with pytest.raises(ConnectionClosed) as closed:
        await two_rooms.troublemaker.recv()
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 1009  # message too big
    left = await two_rooms.peer.expect(Left)
    assert (left.participant.id, left.reason) == (two_rooms.troublemaker.id, "disconnect")
    await two_rooms.bystander.send(Signal(two_rooms.listener.id, Answer("v=0")))
    assert await two_rooms.listener.recv() == Relayed(two_rooms.bystander.id, Answer("v=0"))


async def test_relay_racing_a_vanished_peer_does_not_break_the_sender(
    open_client: OpenClient,
) -> None:
    sender, vanishing = await open_client(), await open_client()
    await sender.join("r", "S")
    await vanishing.join("r", "V")
    await sender.expect(Joined)
    vanishing.connection.transport.abort()  # no closing handshake: like a pulled cable
    for _ in range(20):
        await sender.send(Signal(vanishing.id, Answer("v=0")))
    await sender.send(Ping(id="end"))
    seen = set()
    while not isinstance(message := await sender.recv(), Pong):
        seen.add(type(message).__name__)
        if isinstance(message, Left):
            assert message.reason == "disconnect"
        else:
            assert message.code == ErrorCode.UNKNOWN_PARTICIPANT  # type: ignore[union-attr]
    assert seen <= {"Left", "ErrorReply"}


async def test_two_clients_chat_and_both_receive_every_message_in_order(
    open_client: OpenClient,
) -> None:
    mentor, student = await open_client(), await open_client()
    await mentor.join("chole-2026-11-25", "Dr Li", Role.MENTOR)
    await student.join("chole-2026-11-25", "Иван", Role.STUDENT)
    await mentor.expect(Joined)
    # Both type at once, without waiting for each other's echoes.
    await asyncio.gather(
        *(mentor.send(Chat(text)) for text in ["Please show Calot's triangle", "Zoom in", "Good"]),
        *(student.send(Chat(text)) for text in ["请问这是胆囊管吗？", "Спасибо!\nПонятно"]),
    )
    seen_by_mentor = [await mentor.expect(ChatMessage) for _ in range(5)]
    seen_by_student = [await student.expect(ChatMessage) for _ in range(5)]
    assert seen_by_mentor == seen_by_student
    assert [m.seq for m in seen_by_mentor] == [1, 2, 3, 4, 5]
    assert [m.time for m in seen_by_mentor] == sorted(m.time for m in seen_by_mentor)
    by_mentor = [m for m in seen_by_mentor if m.sender == mentor.id]
    by_student = [m for m in seen_by_mentor if m.sender == student.id]
    assert [m.text for m in by_mentor] == ["Please show Calot's triangle", "Zoom in", "Good"]
    assert [m.text for m in by_student] == ["请问这是胆囊管吗？", "Спасибо!\nПонятно"]
    assert {(m.name, m.role) for m in by_student} == {("Иван", Role.STUDENT)}


async def test_a_late_joiner_gets_the_chat_history_right_after_welcome(
    open_client: OpenClient,
) -> None:
    surgeon, late = await open_client(), await open_client()
    await surgeon.join("r", "Dr Wang", Role.SURGEON)
    for text in ["Starting dissection", "Clip applied"]:
        await surgeon.send(Chat(text))
        await surgeon.expect(ChatMessage)
    await late.send(Join("r", "Late", Role.TRAINEE))
    welcome = await late.recv()
    history = await late.expect(ChatHistory)
    assert [p.id for p in welcome.participants] == [surgeon.id]  # type: ignore[union-attr]
    assert [(m.seq, m.sender, m.text) for m in history.messages] == [
        (1, surgeon.id, "Starting dissection"),
        (2, surgeon.id, "Clip applied"),
    ]
    assert (await surgeon.expect(Joined)).participant.name == "Late"
    await late.send(Chat("Hello"))
    assert (await late.expect(ChatMessage)).seq == 3
    assert (await surgeon.expect(ChatMessage)).text == "Hello"


async def test_what_participants_publish_is_announced_and_updated_for_everyone(
    open_client: OpenClient,
) -> None:
    surgeon, trainee, student = await open_client(), await open_client(), await open_client()
    await surgeon.join("r", "Dr Wang", Role.SURGEON, Publishes(video=2, audio=True))
    welcome = await trainee.join("r", "T", Role.TRAINEE)
    assert welcome.participants[0].publishes == Publishes(video=2, audio=True)
    assert (await surgeon.expect(Joined)).participant.publishes == Publishes()

    await trainee.send(Publish(Publishes(audio=True)))
    for client in (surgeon, trainee):
        updated = await client.expect(Updated)
        assert (updated.participant.id, updated.participant.publishes) == (
            trainee.id,
            Publishes(audio=True),
        )
    late = await student.join("r", "S", Role.STUDENT)
    assert [p.publishes for p in late.participants] == [
        Publishes(video=2, audio=True),
        Publishes(audio=True),
    ]


async def test_a_student_announcing_media_is_refused_and_may_join_without(
    open_client: OpenClient,
) -> None:
    student = await open_client()
    await student.send(Join("r", "S", Role.STUDENT, Publishes(video=1), id="j"))
    error = await student.expect_error(ErrorCode.FORBIDDEN)
    assert error.ref == "j"
    assert "student" in error.message
    await student.join("r", "S", Role.STUDENT)


async def test_room_size_limit_comes_from_the_config(open_client: OpenClient) -> None:
    clients = [await open_client() for _ in range(5)]
    for index, client in enumerate(clients[:4]):
        await client.join("small", f"C{index}")
    await clients[4].send(Join("small", "One too many", Role.STUDENT))
    error = await clients[4].expect_error(ErrorCode.ROOM_FULL)
    assert "4 participants" in error.message


async def test_healthz_reports_rooms_and_participants(
    server: RunningServer, open_client: OpenClient
) -> None:
    status, headers, body = await http_get(server.host, server.port, "/healthz")
    assert status == 200
    assert headers["content-type"] == "application/json"
    assert json.loads(body) == {"status": "ok", "rooms": 0, "participants": 0, "version": "0.1.0"}

    a, b, c = await open_client(), await open_client(), await open_client()
    await a.join("one", "A")
    await b.join("one", "B")
    await c.join("two", "C")
    status, _, body = await http_get(server.host, server.port, "/healthz?probe=1")
    assert status == 200
    assert json.loads(body)["rooms"] == 2
    assert json.loads(body)["participants"] == 3

    await c.send(Ping())
    pong = await c.expect(Pong)
    assert (pong.rooms, pong.participants) == (2, 3)


async def test_other_http_paths_are_not_websockets(server: RunningServer) -> None:
    status, _, _ = await http_get(server.host, server.port, "/")
    assert status == 426  # upgrade required


async def test_logs_name_join_leave_and_errors_but_never_sdp(
    open_client: OpenClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="signaling_server")
    a, b = await open_client(), await open_client()
    await a.join("logged-room", "Patient-sounding Name", Role.SURGEON, Publishes(video=1))
    await b.join("logged-room", "B")
    await a.expect(Joined)
    await a.send(Signal(b.id, Offer("v=0 SECRET-SDP-BODY")))
    await b.expect(Relayed)
    await a.send(Signal(b.id, Candidate("candidate:SECRET-CANDIDATE", None, 0)))
    await b.expect(Relayed)
    await a.send("garbage")
    await a.expect_error(ErrorCode.BAD_JSON)
    await b.send(Leave())
    await a.expect(Left)

    lines = [r.getMessage() for r in caplog.records if r.name == "signaling_server"]
    assert f"join room=logged-room participant={a.id} role=surgeon" in lines
    assert f"leave room=logged-room participant={b.id} role=mentor reason=leave" in lines
    assert f"error code=bad-json room=logged-room participant={a.id} role=surgeon" in lines
    assert "SECRET" not in caplog.text
    assert "Patient-sounding" not in caplog.text


async def test_logs_show_what_is_published_but_never_chat_text(
    open_client: OpenClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="signaling_server")
    a, b = await open_client(), await open_client()
    await a.join("logged-room", "A", Role.SURGEON)
    await b.join("logged-room", "B", Role.STUDENT)
    await a.expect(Joined)
    await a.send(Chat("SECRET patient name and bed"))
    await a.expect(ChatMessage)
    await b.expect(ChatMessage)
    await b.send('{"v":1,"type":"chat","text":"SECRET-REFUSED\\u0007"}')
    await b.expect_error(ErrorCode.BAD_MESSAGE)
    await a.send(Publish(Publishes(video=2, audio=True)))
    await a.expect(Updated)
    await b.expect(Updated)

    lines = [r.getMessage() for r in caplog.records if r.name == "signaling_server"]
    assert f"publish room=logged-room participant={a.id} role=surgeon video=2 audio=yes" in lines
    assert "SECRET" not in caplog.text


async def test_close_is_idempotent() -> None:
    running = await start_server(ServerConfig(port=0))
    await running.close()
    await running.close()


async def test_closing_the_server_disconnects_clients_with_1001() -> None:
    running = await start_server(ServerConfig(port=0))
    async with connect(running.url) as connection:
        client = Client(connection)
        await client.join("r", "A")
        await asyncio.wait_for(running.close(), seconds(5))
        with pytest.raises(ConnectionClosed) as closed:
            await client.recv()
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 1001


async def test_port_in_use_is_a_clear_signaling_error(server: RunningServer) -> None:
    with pytest.raises(SignalingError, match="already in use"):
        await start_server(ServerConfig(port=server.port))


def test_config_is_checked() -> None:
    with pytest.raises(ConfigError):
        ServerConfig(max_room_size=0)
    with pytest.raises(ConfigError):
        ServerConfig(max_message_bytes=TRANSPORT_MAX_BYTES + 1)
    with pytest.raises(ConfigError):
        ServerConfig(port=70000)
    assert ServerConfig().max_message_bytes == MAX_MESSAGE_BYTES


async def test_url_brackets_an_ipv6_host() -> None:
    try:
        running = await start_server(ServerConfig(host="::1", port=0))
    except SignalingError:
        pytest.skip("no IPv6 loopback here")
    try:
        assert running.url == f"ws://[::1]:{running.port}"
        async with connect(running.url) as connection:
            await Client(connection).join("r", "A")
    finally:
        await running.close()
