"""Room tokens and removal end to end: a real server on 127.0.0.1:0, real websocket clients."""

from __future__ import annotations

import base64
import json
import logging
import time
from contextlib import AsyncExitStack

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from signaling_server import RunningServer, ServerConfig
from surgery_teach.protocol import (
    Answer,
    Chat,
    ChatMessage,
    ErrorCode,
    Join,
    Joined,
    Left,
    Ping,
    Pong,
    Relayed,
    RemoveParticipant,
    Role,
    Signal,
)
from tests.signaling_server.conftest import (
    SECRET,
    Client,
    OpenClient,
    join_with_token,
    make_token,
    refused,
)
from tests.timing import seconds

ROOM = "chole-2026-11-25"


def _unsigned(room: str) -> str:
    """A token with ``alg: none``: claims anyone could write, and no signature."""

    def part(data: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    now = int(time.time())
    claims = {
        "room": room,
        "role": "mentor",
        "name": "Dr Li",
        "sub": "u-1",
        "iat": now,
        "exp": now + 3600,
        "jti": "j-1",
    }
    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}."


BAD_TOKENS = [
    pytest.param("", 401, "no room token", id="none"),
    pytest.param(
        make_token(ROOM, "Dr Li", ttl=60, issued=time.time() - 3600), 401, "expired", id="expired"
    ),
    pytest.param(
        make_token(ROOM, "Dr Li", secret=b"somebody else's secret, long enough to sign"),
        401,
        "signature does not match",
        id="bad-signature",
    ),
    pytest.param(_unsigned(ROOM), 401, "not signed with HS256", id="alg-none"),
    pytest.param("not.a.token", 401, "not a well-formed token", id="garbage"),
    pytest.param(make_token("theatre-2", "Dr Li"), 403, "not 'chole-2026-11-25'", id="other-room"),
]


@pytest.mark.parametrize(("token", "status", "explanation"), BAD_TOKENS)
async def test_a_bad_token_is_refused_with_its_status_before_the_websocket_opens(
    token_server: RunningServer, token: str, status: int, explanation: str
) -> None:
    url = f"{token_server.url}/?room={ROOM}" + (f"&token={token}" if token else "")
    got, body = await refused(url)
    assert (got, explanation in body) == (status, True), body
    if token:
        assert token not in body


async def test_a_401_names_the_bearer_scheme(token_server: RunningServer) -> None:
    with pytest.raises(InvalidStatus) as caught:
        async with connect(token_server.url, open_timeout=seconds(5)):
            pass  # pragma: no cover
    assert caught.value.response.headers["WWW-Authenticate"].startswith("Bearer")
    assert "Authorization: Bearer" in caught.value.response.body.decode()


async def test_a_valid_token_joins_from_the_url_or_a_bearer_header(
    token_server: RunningServer,
) -> None:
    async with AsyncExitStack() as stack:
        mentor = await join_with_token(
            stack, token_server, make_token(ROOM, "Dr Li"), ROOM, "Dr Li", Role.MENTOR
        )
        header = {"Authorization": f"Bearer {make_token(ROOM, 'Дмитрий', Role.TRAINEE)}"}
        connection = await stack.enter_async_context(
            connect(token_server.url, additional_headers=header, open_timeout=seconds(5))
        )
        trainee = Client(connection)
        welcome = await trainee.join(ROOM, "Дмитрий", Role.TRAINEE)
        assert [p.id for p in welcome.participants] == [mentor.id]
        assert (await mentor.expect(Joined)).participant.name == "Дмитрий"


@pytest.mark.parametrize(
    "join",
    [
        Join("theatre-2", "Dr Li", Role.MENTOR, id="j"),
        Join(ROOM, "Dr Li", Role.SURGEON, id="j"),
        Join(ROOM, "Prof Wang", Role.MENTOR, id="j"),
    ],
    ids=["room", "role", "name"],
)
async def test_a_join_that_does_not_match_the_token_is_not_allowed(
    token_server: RunningServer, join: Join
) -> None:
    token = make_token(ROOM, "Dr Li", Role.MENTOR)
    async with connect(f"{token_server.url}/?token={token}") as connection:
        client = Client(connection)
        await client.send(join)
        error = await client.expect_error(ErrorCode.NOT_ALLOWED)
        assert error.ref == "j"
        assert "your token admits you to room 'chole-2026-11-25' as mentor 'Dr Li'" in (
            error.message
        )
        await client.join(ROOM, "Dr Li", Role.MENTOR)  # as the token says, it works


async def _theatre(
    stack: AsyncExitStack, server: RunningServer
) -> tuple[Client, Client, Client]:
    """A mentor, a trainee (user ``trainee-7``) and a student, each having seen the others."""
    mentor = await join_with_token(
        stack, server, make_token(ROOM, "Dr Li"), ROOM, "Dr Li", Role.MENTOR
    )
    trainee_token = make_token(ROOM, "Дмитрий", Role.TRAINEE, user="trainee-7")
    trainee = await join_with_token(stack, server, trainee_token, ROOM, "Дмитрий", Role.TRAINEE)
    await mentor.expect(Joined)
    student = await join_with_token(
        stack, server, make_token(ROOM, "S", Role.STUDENT), ROOM, "S", Role.STUDENT
    )
    await mentor.expect(Joined)
    await trainee.expect(Joined)
    return mentor, trainee, student


async def test_a_removed_participant_is_told_disconnected_and_kept_out(
    token_server: RunningServer,
) -> None:
    async with AsyncExitStack() as stack:
        mentor, trainee, student = await _theatre(stack, token_server)
        await mentor.send(RemoveParticipant(trainee.id, id="r"))

        error = await trainee.expect_error(ErrorCode.REMOVED)
        assert "removed you from room" in error.message
        with pytest.raises(ConnectionClosed) as closed:
            await trainee.recv()
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008
        for client in (mentor, student):
            left = await client.expect(Left)
            assert (left.participant.id, left.reason) == (trainee.id, "removed")

        url = f"{token_server.url}/?room={ROOM}&token="
        again = make_token(ROOM, "Дмитрий", Role.TRAINEE, user="trainee-7")
        status, body = await refused(url + again)  # a new token for the same person
        assert (status, "removed" in body) == (403, True)
        other = await join_with_token(
            stack, token_server, make_token(ROOM, "Дмитрий", Role.TRAINEE), ROOM, "Дмитрий",
            Role.TRAINEE,
        )
        assert (await mentor.expect(Joined)).participant.id == other.id


async def test_the_removed_token_itself_is_refused_with_403(token_server: RunningServer) -> None:
    token = make_token(ROOM, "T", Role.TRAINEE)
    async with AsyncExitStack() as stack:
        mentor = await join_with_token(
            stack, token_server, make_token(ROOM, "Dr Li"), ROOM, "Dr Li", Role.MENTOR
        )
        trainee = await join_with_token(stack, token_server, token, ROOM, "T", Role.TRAINEE)
        await mentor.expect(Joined)
        await mentor.send(RemoveParticipant(trainee.id))
        await mentor.expect(Left)
    status, body = await refused(f"{token_server.url}/?token={token}")
    assert status == 403
    assert "you were removed from room 'chole-2026-11-25'" in body


async def test_a_student_may_not_remove(token_server: RunningServer) -> None:
    async with AsyncExitStack() as stack:
        _, trainee, student = await _theatre(stack, token_server)
        await student.send(RemoveParticipant(trainee.id, id=9))
        assert (await student.expect_error(ErrorCode.FORBIDDEN)).ref == 9
        await trainee.send(Ping())
        assert isinstance(await trainee.recv(), Pong)  # still there


async def test_an_open_server_removes_too_but_cannot_keep_anyone_out(
    open_client: OpenClient,
) -> None:
    mentor, trainee = await open_client(), await open_client()
    await mentor.join("r", "M", Role.MENTOR)
    await trainee.join("r", "T", Role.TRAINEE)
    await mentor.expect(Joined)
    await mentor.send(RemoveParticipant(trainee.id))
    assert "token" not in (await trainee.expect_error(ErrorCode.REMOVED)).message
    with pytest.raises(ConnectionClosed):
        await trainee.recv()
    assert (await mentor.expect(Left)).reason == "removed"
    back = await open_client()
    await back.join("r", "T", Role.TRAINEE)


def test_the_token_secret_is_never_in_the_config_repr() -> None:
    assert SECRET.decode() not in repr(ServerConfig(secret=SECRET))


async def test_debug_logs_never_show_tokens_or_what_participants_send(
    token_server: RunningServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    in_url, in_header = make_token(ROOM, "Dr Li"), make_token(ROOM, "S", Role.STUDENT)
    forged = make_token(ROOM, "Dr Li", secret=b"somebody else's secret, long enough to sign")
    assert (await refused(f"{token_server.url}/?token={forged}"))[0] == 401
    async with AsyncExitStack() as stack:
        mentor = await join_with_token(stack, token_server, in_url, ROOM, "Dr Li", Role.MENTOR)
        link = await stack.enter_async_context(
            connect(token_server.url, additional_headers={"Authorization": f"Bearer {in_header}"})
        )
        student = Client(link)
        await student.join(ROOM, "S", Role.STUDENT)
        await mentor.expect(Joined)
        await mentor.send(Chat("SECRET patient name"))
        await student.expect(ChatMessage)
        await mentor.expect(ChatMessage)
        await student.send(Signal(mentor.id, Answer("v=0 SECRET-SDP")))
        await mentor.expect(Relayed)
    server_side = "\n".join(
        record.getMessage()
        for record in caplog.records
        if record.name.startswith(("signaling_server", "websockets.server"))
    )
    assert "< GET /?token=[redacted] HTTP/1.1" in server_side  # the request was logged
    assert "< Authorization: [redacted]" in server_side
    for token in (in_url, in_header, forged):
        assert token.split(".")[2] not in server_side
    assert "SECRET" not in server_side
