"""--state-dir: a restarted server gives rooms back, from small append-only journals."""

from __future__ import annotations

import json
import os
from contextlib import AsyncExitStack
from pathlib import Path

from signaling_server import ServerConfig, start_server
from signaling_server.state import StateDir
from surgery_teach.annotations import Arrow, Board, Remove, Undo, Update
from surgery_teach.protocol import (
    Annotate,
    Annotation,
    AnnotationSnapshot,
    Chat,
    ChatHistory,
    ChatMessage,
    GrantDraw,
    Join,
    Joined,
    Leave,
    Left,
    Role,
    Updated,
)
from surgery_teach.protocol.durable import DurableRooms
from tests.recording.helpers import until
from tests.signaling_server.test_rejoin import (
    KEY_M,
    KEY_T,
    ROOM,
    arrow,
    connected,
    join_with_key,
    pong_next,
)
from tests.timing import seconds


async def test_a_restarted_server_gives_back_the_room_its_chat_marks_and_rights(
        tmp_path: Path) -> None:
    config = ServerConfig(port=0, state_dir=tmp_path / "state")
    server = await start_server(config)
    async with AsyncExitStack() as stack:
        mentor, trainee = await connected(stack, server), await connected(stack, server)
        m = await join_with_key(mentor, "Dr Li", Role.MENTOR, KEY_M)
        t = await join_with_key(trainee, "Дмитрий", Role.TRAINEE, KEY_T)
        await mentor.expect(Joined)
        await mentor.send(GrantDraw(to=t.you.id, allowed=True))
        await mentor.expect(Updated)
        await trainee.expect(Updated)
        await mentor.send(Chat("Покажите ещё раз", id="c-1"))
        said = await mentor.expect(ChatMessage)
        await trainee.expect(ChatMessage)
        for n in (1, 2):
            await trainee.send(Annotate(arrow(t.you.id, n), id=f"a-{n}"))
            await trainee.expect(Annotation)
            await mentor.expect(Annotation)
        await trainee.send(Annotate(Undo(author=t.you.id), id="a-3"))  # takes back arrow 2
        undone = await trainee.expect(Annotation)  # as a remove, numbered like any op
        assert undone.op == Remove(f"{t.you.id}:2", author=t.you.id, seq=3)
        await mentor.expect(Annotation)
    await server.close()

    server = await start_server(config)
    try:
        async with AsyncExitStack() as stack:
            trainee = await connected(stack, server)
            welcome = await join_with_key(trainee, "Дмитрий", Role.TRAINEE, KEY_T)
            assert welcome.you.id == t.you.id and welcome.you.can_draw
            assert [p.id for p in welcome.participants] == [m.you.id]  # waiting for it
            history = await trainee.expect(ChatHistory)
            assert [(c.seq, c.text, c.time) for c in history.messages] == [
                (1, said.text, said.time)]
            snapshot = await trainee.expect(AnnotationSnapshot)
            assert [op.shape.id for op in snapshot.ops] == [f"{t.you.id}:1"]  # type: ignore
            assert snapshot.seq == 3
            # an op sent again after the restart is recognised; a new one continues the count
            await trainee.send(Annotate(arrow(t.you.id, 1), id="a-1"))
            assert (await trainee.expect(Annotation)).op.seq == 1
            await trainee.send(Annotate(Undo(author=t.you.id), id="a-3"))  # not twice
            assert (await trainee.expect(Annotation)).op.seq == 3
            await trainee.send(Chat("Понял", id="c-9"))
            assert (await trainee.expect(ChatMessage)).seq == 2
            mentor = await connected(stack, server)
            assert (await join_with_key(mentor, "Dr Li", Role.MENTOR, KEY_M)).you.id == m.you.id
            assert len((await mentor.expect(ChatHistory)).messages) == 2
            await mentor.expect(AnnotationSnapshot)
            await pong_next(trainee)  # the mentor came back: no joined for the trainee

            await trainee.send(Leave())
            assert (await mentor.expect(Left)).reason == "leave"
            await mentor.send(Leave())
            await pong_next(mentor)
        # a closed room is gone (its file is removed by the state's writer thread, in turn)
        await until(lambda: list((tmp_path / "state" / "rooms").iterdir()) == [], seconds(5),
                    "the closed room's journal removed")
    finally:
        await server.close()


def test_a_long_journal_is_compacted_and_still_restores_the_same_board(tmp_path: Path) -> None:
    state = StateDir.open(tmp_path, max_bytes=32 * 1024)
    rooms: DurableRooms[str] = DurableRooms(journal=state)
    rooms.handle("m", Join(ROOM, "Dr Li", Role.MENTOR, client_key=KEY_M))
    me = rooms.seat("m").participant.id  # type: ignore[union-attr]
    rooms.handle("m", Annotate(arrow(me, 1), id=0))
    written = 0
    for n in range(1, 1200):  # a mark dragged about: the journal grows, the board does not
        rooms.handle("m", Annotate(Update(Arrow(
            id=f"{me}:1", author=me, source="Laparoscope", colour="#00ff00", width=0.004,
            start=(n / 1200, 0.2), end=(0.5, 0.5))), id=n))
        if n % 50 == 0:
            rooms.handle("m", Chat(f"note {n}", id=f"c-{n}"))
        state.drain()  # what the writer thread has written so far counts
        for room in state.oversized():
            state.rewrite(room, rooms.state_entries(room))
            written += 1
    file = tmp_path / "rooms" / f"room-{ROOM}.jsonl"
    assert written >= 3 and file.stat().st_size < 100 * 1024  # compacted, and bounded
    assert sum(1 for line in file.read_text().splitlines() if '"k":"board"' in line) == 1
    state.close()

    again: DurableRooms[str] = DurableRooms(journal=None)
    reopened = StateDir.open(tmp_path)
    (restored,) = reopened.load()
    reopened.close()
    assert again.restore(restored)
    mine, theirs = rooms.board(ROOM), again.board(ROOM)
    assert isinstance(mine, Board) and isinstance(theirs, Board)
    assert theirs.snapshot() == mine.snapshot() and theirs.last_seq == mine.last_seq
    again.handle("back", Join(ROOM, "Dr Li", Role.MENTOR, client_key=KEY_M))
    # a resend of a recent op (one the client may not have heard back about) is taken once
    resend = Annotate(Update(Arrow(id=f"{me}:1", author=me, source="Laparoscope",
                                   colour="#00ff00", width=0.004, start=(0.5, 0.2),
                                   end=(0.5, 0.5))), id=1199)
    assert again.handle("back", resend)[-1][1].op.seq == 1200  # type: ignore[union-attr]
    assert again.board(ROOM).last_seq == mine.last_seq  # type: ignore[union-attr]


def test_a_line_cut_short_by_a_crash_is_dropped_and_a_broken_file_set_aside(
        tmp_path: Path) -> None:
    state = StateDir.open(tmp_path)
    rooms: DurableRooms[str] = DurableRooms(journal=state)
    rooms.handle("m", Join(ROOM, "Dr Li", Role.MENTOR, client_key=KEY_M))
    rooms.handle("m", Chat("first", id="c-1"))
    state.close()
    file = tmp_path / "rooms" / f"room-{ROOM}.jsonl"
    with open(file, "a", encoding="utf-8") as out:
        out.write('{"k":"chat","m":{"v":1,"type":"ch')  # the process died mid-write
    again = StateDir.open(tmp_path)
    (restored,) = again.load()
    assert [m.text for m, _ in restored.chat] == ["first"]
    again.close()

    (tmp_path / "rooms" / "room-other.jsonl").write_text('{"k":"nonsense"}\n', encoding="utf-8")
    again = StateDir.open(tmp_path)
    assert [s.room for s in again.load()] == [ROOM]
    again.close()
    assert (tmp_path / "rooms" / "room-other.bad").exists()


def test_journal_lines_are_json_and_hold_no_client_keys(tmp_path: Path) -> None:
    state = StateDir.open(tmp_path)
    rooms: DurableRooms[str] = DurableRooms(journal=state)
    rooms.handle("m", Join(ROOM, "Dr Li", Role.MENTOR, client_key=KEY_M))
    state.close()
    file = tmp_path / "rooms" / f"room-{ROOM}.jsonl"
    text = file.read_text(encoding="utf-8")
    assert KEY_M not in text
    assert [json.loads(line)["k"] for line in text.splitlines()] == ["room", "in"]
    assert os.stat(file).st_mode & 0o077 == 0  # private to the server's user


def test_a_state_dir_that_cannot_be_written_stops_the_server_with_one_line(
        tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    from signaling_server.__main__ import main

    blocker = tmp_path / "file"
    blocker.write_text("not a folder", encoding="utf-8")
    assert main(["--port", "0", "--state-dir", str(blocker / "state")]) == 2
    err = capsys.readouterr().err
    assert "cannot use the state directory" in err and "Traceback" not in err
