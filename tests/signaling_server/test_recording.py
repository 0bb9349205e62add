"""Recording over the real server: everyone sees who records, late joiners included;
chapters reach every participant numbered; roles are enforced; the audit log says who
started and stopped recording, never chapter titles."""

from __future__ import annotations

import asyncio
import json
import time
from contextlib import AsyncExitStack
from pathlib import Path

from websockets.asyncio.client import connect

from signaling_server import RunningServer, ServerConfig, start_server
from surgery_teach.protocol import (
    ChapterMessage,
    ChapterStart,
    ChatHistory,
    ErrorCode,
    ErrorReply,
    Joined,
    Left,
    PrivacyNotice,
    PrivacyPause,
    Publishes,
    Record,
    Role,
    RoomRecording,
    Welcome,
)
from tests.signaling_server.conftest import Client, OpenClient
from tests.timing import seconds

ROOM = "chole-2026-11-25"


async def test_everyone_sees_who_records_and_a_recorder_who_drops_stops(
    open_client: OpenClient,
) -> None:
    surgeon, trainee = await open_client(), await open_client()
    await surgeon.join(ROOM, "Dr Wang", Role.SURGEON, Publishes(video=1))
    await trainee.join(ROOM, "Osh", Role.TRAINEE)
    await surgeon.expect(Joined)

    await surgeon.send(Record(on=True, id="rec-1"))
    mine = await surgeon.expect(RoomRecording)
    theirs = await trainee.expect(RoomRecording)
    assert mine.ref == "rec-1" and theirs.ref is None
    assert [(r.id, r.name, r.role) for r in theirs.recorders] == [
        (surgeon.id, "Dr Wang", Role.SURGEON)
    ]
    assert abs(theirs.recorders[0].since - time.time()) < seconds(5)

    late = await open_client()
    welcome = await late.join(ROOM, "李明", Role.STUDENT)
    assert isinstance(welcome, Welcome)
    state = await late.expect(RoomRecording)  # right after welcome: the consent indicator
    assert state.records(surgeon.id)
    await surgeon.expect(Joined)
    await trainee.expect(Joined)

    await surgeon.connection.close()  # drops while recording
    for client in (trainee, late):
        left = await client.expect(Left)
        assert left.participant.id == surgeon.id
        assert await client.expect(RoomRecording) == RoomRecording(())


async def test_trainees_are_refused_with_forbidden_and_chapters_reach_everyone(
    open_client: OpenClient,
) -> None:
    mentor, trainee = await open_client(), await open_client()
    await mentor.join(ROOM, "Dr Li", Role.MENTOR)
    await trainee.join(ROOM, "Osh", Role.TRAINEE)
    await mentor.expect(Joined)

    await trainee.send(Record(on=True, id=11))
    error = await trainee.expect_error(ErrorCode.FORBIDDEN)
    assert error.ref == 11 and "a trainee may not record" in error.message
    await trainee.send(ChapterStart("Step 1", time.time(), id=12))
    error = await trainee.expect_error(ErrorCode.FORBIDDEN)
    assert error.ref == 12 and "a trainee may not start chapters" in error.message

    await mentor.send('{"v":1,"type":"chapter","title":"' + "x" * 201 + '","time":1}')
    assert "the limit is 200" in (await mentor.expect_error(ErrorCode.BAD_MESSAGE)).message

    sent_at = time.time()
    await mentor.send(ChapterStart("Calot's triangle / 胆囊三角", sent_at))
    for client in (mentor, trainee):
        chapter = await client.expect(ChapterMessage)
        assert (chapter.title, chapter.seq, chapter.sender) == (
            "Calot's triangle / 胆囊三角", 1, mentor.id
        )
        assert chapter.time == sent_at and chapter.server_time >= sent_at - 1
    await mentor.send(ChapterStart("Clipping", time.time()))
    assert (await trainee.expect(ChapterMessage)).seq == 2


async def test_record_start_stop_and_leaving_are_audited_without_titles(
    tmp_path: Path,
) -> None:
    audit = tmp_path / "audit.jsonl"
    server: RunningServer = await start_server(ServerConfig(port=0, audit_log=audit))
    try:
        async with AsyncExitStack() as stack:

            async def client() -> Client:
                link = await stack.enter_async_context(connect(server.url))
                return Client(link)

            surgeon, mentor = await client(), await client()
            await surgeon.join(ROOM, "Dr Wang", Role.SURGEON)
            await mentor.join(ROOM, "Dr Li", Role.MENTOR)
            await surgeon.expect(Joined)
            await surgeon.send(Record(on=True))
            await surgeon.expect(RoomRecording)
            await mentor.expect(RoomRecording)
            await surgeon.send(ChapterStart("SECRET-TITLE", time.time()))
            await surgeon.expect(ChapterMessage)
            await surgeon.send(Record(on=False))
            await surgeon.expect(RoomRecording)
            await mentor.expect(ChapterMessage)
            assert await mentor.expect(RoomRecording) == RoomRecording(())
            await mentor.send(Record(on=True))
            assert (await mentor.expect(RoomRecording)).records(mentor.id)
            mentor_id = mentor.id
            await mentor.connection.close()
            await surgeon.expect(RoomRecording)  # the mentor's recording
            await surgeon.expect(Left)
            assert await surgeon.expect(RoomRecording) == RoomRecording(())

        async with asyncio.timeout(seconds(5)):
            while '"outcome":"left"' not in audit.read_text(encoding="utf-8"):
                await asyncio.sleep(0.01)
        lines = [json.loads(line) for line in audit.read_text(encoding="utf-8").splitlines()]
        recording = [
            (line["outcome"], line["role"], line["name"])
            for line in lines
            if line["event"] == "recording"
        ]
        assert recording == [
            ("start", "surgeon", "Dr Wang"),
            ("stop", "surgeon", "Dr Wang"),
            ("start", "mentor", "Dr Li"),
            ("left", "mentor", "Dr Li"),
        ]
        assert any(line["participant"] == mentor_id for line in lines)
        assert "SECRET" not in audit.read_text(encoding="utf-8")
    finally:
        await server.close()


async def test_a_newcomer_gets_chat_history_before_the_recording_state(
    open_client: OpenClient,
) -> None:
    from surgery_teach.protocol import Chat, ChatMessage

    surgeon = await open_client()
    await surgeon.join(ROOM, "Dr Wang", Role.SURGEON)
    await surgeon.send(Chat("Starting"))
    await surgeon.expect(ChatMessage)
    await surgeon.send(Record(on=True))
    await surgeon.expect(RoomRecording)
    late = await open_client()
    await late.join(ROOM, "Dr Li", Role.MENTOR)
    assert isinstance(await late.recv(), ChatHistory)
    assert (await late.expect(RoomRecording)).records(surgeon.id)


async def test_privacy_pauses_are_audited_with_who_and_a_trainee_is_refused(
    tmp_path: Path,
) -> None:
    audit = tmp_path / "audit.jsonl"
    server: RunningServer = await start_server(ServerConfig(port=0, audit_log=audit))
    try:
        async with AsyncExitStack() as stack:

            async def client() -> Client:
                link = await stack.enter_async_context(connect(server.url))
                return Client(link)

            surgeon, trainee = await client(), await client()
            await surgeon.join(ROOM, "Dr Wang", Role.SURGEON)
            await trainee.join(ROOM, "Osh", Role.TRAINEE)
            await surgeon.expect(Joined)
            await surgeon.send(PrivacyPause(paused=True))
            notice = await trainee.expect(PrivacyNotice)
            assert notice.paused and notice.name == "Dr Wang"
            await surgeon.send(PrivacyPause(paused=False))
            assert not (await trainee.expect(PrivacyNotice)).paused
            await trainee.send(PrivacyPause(paused=True))
            assert (await trainee.expect(ErrorReply)).code == ErrorCode.FORBIDDEN

        async with asyncio.timeout(seconds(5)):
            while '"outcome":"resumed"' not in audit.read_text(encoding="utf-8"):
                await asyncio.sleep(0.01)
        lines = [json.loads(line) for line in audit.read_text(encoding="utf-8").splitlines()]
        privacy = [(line["outcome"], line["role"], line["name"])
                   for line in lines if line["event"] == "privacy"]
        assert privacy == [("paused", "surgeon", "Dr Wang"), ("resumed", "surgeon", "Dr Wang")]
    finally:
        await server.close()
