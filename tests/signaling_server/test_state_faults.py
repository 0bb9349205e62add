"""--state-dir when things go wrong: a full disk, two servers on one folder, a restart
after a removal, and a disk that is slow (the event loop never waits on it)."""

from __future__ import annotations

import asyncio
import errno
import os
import shutil
import threading
from contextlib import AsyncExitStack
from pathlib import Path

import pytest

from signaling_server import ServerConfig, start_server
from signaling_server.state import StateDir, StateDirInUse
from surgery_teach.errors import ConfigError
from surgery_teach.protocol import Chat, ErrorCode, Join, Joined, Leave, Left, Role
from surgery_teach.protocol.durable import DurableRooms
from surgery_teach.protocol.messages import RemoveParticipant
from tests.signaling_server.conftest import SECRET, join_with_token, make_token, refused
from tests.signaling_server.test_rejoin import KEY_M, KEY_T, ROOM
from tests.timing import seconds


class Disk(StateDir):
    """A state directory whose disk can be made to take only part of a write, or be full."""

    short = False  # each write takes at most half of what it is given
    full = False  # a write that would take anything fails with ENOSPC (after a short one)

    def _os_write(self, fd: int, data: memoryview) -> int:
        if self.full:
            if len(data) > 1 and not getattr(self, "_torn", False):
                self._torn = True  # the disk fills up in the middle of a line
                return os.write(fd, data[: len(data) // 2])
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        if self.short and len(data) > 1:
            return os.write(fd, data[: len(data) // 2])
        return os.write(fd, data)


def _room(state: StateDir) -> DurableRooms[str]:
    rooms: DurableRooms[str] = DurableRooms(journal=state)
    rooms.handle("m", Join(ROOM, "Dr Li", Role.MENTOR, client_key=KEY_M))
    rooms.handle("t", Join(ROOM, "Trainee Osh", Role.TRAINEE, client_key=KEY_T))
    rooms.handle("m", Chat("first", id="c-1"))
    return rooms


def _reload(path: Path) -> tuple[list[str], list[str]]:
    """(participant names, chat texts) of the one room a restarted server would load."""
    state = StateDir.open(path)
    try:
        (restored,) = state.load()
    finally:
        state.close()
    return ([m.info.name for m in restored.members.values()],
            [message.text for message, _ in restored.chat])


def test_short_writes_are_continued_so_every_line_is_whole(tmp_path: Path) -> None:
    state = Disk.open(tmp_path)
    state.short = True
    rooms = _room(state)
    rooms.handle("m", Chat("второй — ещё", id="c-2"))
    state.close()
    assert _reload(tmp_path) == (["Dr Li", "Trainee Osh"], ["first", "второй — ещё"])


async def test_a_full_disk_stops_appends_and_the_room_is_rewritten_from_memory(
        tmp_path: Path) -> None:
    state = Disk.open(tmp_path)
    rooms = _room(state)
    state.drain()
    state.full = True  # half a line goes in, then nothing
    rooms.handle("t", Leave())  # this `out` would be lost: the trainee must not come back
    rooms.handle("m", Chat("while full", id="c-2"))
    state.drain()  # the writer thread has tried
    assert state.due() == [ROOM]
    # a crash now (the files as they are): the torn last line is dropped, all before it kept
    shutil.copytree(tmp_path / "rooms", tmp_path / "crash" / "rooms")
    assert _reload(tmp_path / "crash") == (["Dr Li", "Trainee Osh"], ["first"])

    await state.save(rooms.state_entries, list)  # still full: kept for later
    assert state.due() == [ROOM]
    state.full = False  # space was freed
    await state.save(rooms.state_entries, list)
    assert state.due() == []
    rooms.handle("m", Chat("after", id="c-3"))  # appends go on
    state.close()
    assert _reload(tmp_path) == (["Dr Li"], ["first", "while full", "after"])
    assert list((tmp_path / "rooms").glob("*.tmp")) == []


def test_a_garbled_line_in_the_middle_costs_that_line_not_the_room(tmp_path: Path) -> None:
    state = StateDir.open(tmp_path)
    rooms = _room(state)
    state.close()
    file = tmp_path / "rooms" / f"room-{ROOM}.jsonl"
    lines = file.read_bytes().splitlines(keepends=True)
    lines.insert(2, b'{"k":"chat","m":{"v":1,"ty\n')  # half a line, then more lines
    lines.insert(3, b'{"k":"chat","m":{"v":1,"type":"nonsense"},"ref":null}\n')
    file.write_bytes(b"".join(lines))
    assert _reload(tmp_path) == (["Dr Li", "Trainee Osh"], ["first"])
    assert not file.with_suffix(".bad").exists()
    del rooms


def test_two_servers_cannot_share_a_state_directory(tmp_path: Path) -> None:
    first = StateDir.open(tmp_path)
    with pytest.raises(StateDirInUse) as refused_open:
        StateDir.open(tmp_path)
    message = str(refused_open.value)
    assert f"is in use by another server (pid {os.getpid()})" in message
    assert str(tmp_path) in message
    first.close()
    StateDir.open(tmp_path).close()  # free again once the first is done


async def test_a_second_server_on_the_folder_is_refused_and_the_cli_says_why(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from signaling_server.__main__ import main

    config = ServerConfig(port=0, state_dir=tmp_path)
    server = await start_server(config)
    try:
        with pytest.raises(ConfigError, match="in use by another server"):
            await start_server(config)
        assert await asyncio.to_thread(
            main, ["--port", "0", "--state-dir", str(tmp_path)]) == 2
        err = capsys.readouterr().err
        assert "is in use by another server (pid" in err and "Traceback" not in err
    finally:
        await server.close()


async def test_the_built_in_server_falls_back_to_memory_when_the_folder_is_in_use(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    from ui.app import start_local_server

    first = await start_local_server(0, tmp_path)
    try:
        assert not caplog.records
        second = await start_local_server(0, tmp_path)  # a second copy of the app
        try:
            assert second.port != first.port
            assert "keeps rooms in memory only" in caplog.text
            assert "in use by another server" in caplog.text
        finally:
            await second.close()
    finally:
        await first.close()
    StateDir.open(tmp_path).close()  # the first let go of it; the second never held it


async def test_a_removal_still_bars_the_token_and_the_person_after_a_restart(
        tmp_path: Path) -> None:
    config = ServerConfig(port=0, secret=SECRET, state_dir=tmp_path / "state")
    token = make_token(ROOM, "Дмитрий", Role.TRAINEE, user="trainee-7")
    server = await start_server(config)
    try:
        async with AsyncExitStack() as stack:
            mentor = await join_with_token(
                stack, server, make_token(ROOM, "Dr Li"), ROOM, "Dr Li", Role.MENTOR)
            trainee = await join_with_token(stack, server, token, ROOM, "Дмитрий", Role.TRAINEE)
            await mentor.expect(Joined)
            await mentor.send(RemoveParticipant(trainee.id, id="r"))
            await trainee.expect_error(ErrorCode.REMOVED)
            await mentor.expect(Left)
    finally:
        await server.close()

    server = await start_server(config)
    try:
        url = f"{server.url}/?room={ROOM}&token="
        status, body = await refused(url + token)
        assert (status, "removed" in body) == (403, True)
        again = make_token(ROOM, "Дмитрий", Role.TRAINEE, user="trainee-7")  # a new token
        assert (await refused(url + again))[0] == 403
        async with AsyncExitStack() as stack:  # someone else still may
            await join_with_token(stack, server, make_token(ROOM, "Осип", Role.TRAINEE),
                                  ROOM, "Осип", Role.TRAINEE)
    finally:
        await server.close()


class SlowDisk(StateDir):
    """Records which thread flushes, and can hold a flush until released."""

    def __init__(self, *args: object, **options: object) -> None:
        super().__init__(*args, **options)  # type: ignore[arg-type]
        self.threads: set[int] = set()
        self.hold = threading.Event()
        self.hold.set()
        self.holding = threading.Event()

    def _fsync(self, fd: int) -> None:
        self.threads.add(threading.get_ident())
        self.holding.set()
        assert self.hold.wait(seconds(10))
        os.fsync(fd)


async def test_flushing_and_compaction_run_off_the_event_loop(tmp_path: Path) -> None:
    state = SlowDisk.open(tmp_path, max_bytes=256)
    rooms = _room(state)  # past 256 bytes: due for compaction
    state.drain()
    assert state.due() == [ROOM]
    state.hold.clear()
    saving = asyncio.ensure_future(state.save(rooms.state_entries, list))
    assert await asyncio.to_thread(state.holding.wait, seconds(5))  # the disk is slow ...
    rooms.handle("m", Chat("meanwhile", id="c-2"))  # ... and the loop goes on, appending
    assert state.holding.is_set() and not state.hold.is_set()  # it did not wait for the disk
    state.hold.set()
    await asyncio.wait_for(saving, seconds(5))
    assert state.threads and threading.get_ident() not in state.threads
    assert state.due() == []
    rooms.handle("m", Chat("after", id="c-3"))
    await state.aclose()
    assert _reload(tmp_path) == (["Dr Li", "Trainee Osh"], ["first", "meanwhile", "after"])
