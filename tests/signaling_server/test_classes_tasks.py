"""Each room is moved by a task of its own, and requests made while it works fold into one
more pass; a participant hears of its route only when it changes.

The media server here is a stand-in at the one seam that decides timing: a
:class:`MediaServerControl` whose commands wait until the test lets them through and
that records what it was asked (the real Janus is in test_classes_robust.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from signaling_server.classes import Classes
from signaling_server.media_server.config import MediaServerSecrets
from signaling_server.media_server.config_dir import MediaServerAccess
from signaling_server.media_server.room_control import MediaServerControl
from signaling_server.media_server.rooms import Command
from surgery_teach.protocol import ParticipantInfo, Role
from surgery_teach.protocol.messages import MediaRoute
from tests.rtc.live import until
from tests.timing import seconds


class HeldControl(MediaServerControl):
    """Carries out nothing until ``go`` is set; records each batch of commands."""

    def __init__(self) -> None:  # no Janus: nothing of the parent's state is used
        self.access = MediaServerAccess("ws://127.0.0.1:1", "http://127.0.0.1:2/admin",
                                        MediaServerSecrets.generate())
        self.go = asyncio.Event()
        self.batches: list[list[str]] = []
        self.lost = asyncio.Event()

    async def carry_out(self, commands: Sequence[Command]) -> None:  # type: ignore[override]
        self.batches.append([type(c).__name__ for c in commands])
        await self.go.wait()

    async def wait_lost(self) -> str:
        await self.lost.wait()
        return "stand-in"

    async def close(self) -> None:
        pass


def _people(*names: str) -> list[ParticipantInfo]:
    return [ParticipantInfo(f"p-{n}", n, Role.SURGEON if n == "surgeon" else Role.TRAINEE)
            for n in names]


async def test_requests_during_a_slow_pass_fold_into_one_more_and_routes_go_once() -> None:
    control = HeldControl()
    classes = Classes(control, threshold=1)
    members = {"or-1": _people("surgeon", "a", "b")}
    delivered: list[tuple[str, MediaRoute]] = []
    classes.bind(lambda room: members.get(room, ()),
                 lambda room, routes: delivered.extend(routes))
    try:
        classes.schedule("or-1")
        await until(lambda: control.batches, seconds(5), "the first command")
        for newcomer in ("c", "d", "e"):  # each join asks again while Janus is slow
            members["or-1"] = [*members["or-1"], *_people(newcomer)]
            classes.schedule("or-1")
        classes.schedule("other")  # another room has a task of its own
        assert classes.busy and control.batches == [["AddToken", "CreateRoom"]]
        control.go.set()
        await until(lambda: not classes.busy, seconds(5), "the passes to end")
        # The first pass let in the three present when it began, the next the three who
        # came meanwhile: each once.
        assert control.batches == [["AddToken", "CreateRoom"], *[["AddToken",
                                   "AllowTokens"]] * 5]
        assert sorted(pid for pid, _ in delivered) == [f"p-{n}" for n in
                                                        ("a", "b", "c", "d", "e", "surgeon")]
        classes.sweep()  # the upkeep, a second later: nothing has changed
        await until(lambda: not classes.busy, seconds(5), "the sweep")
        assert len(delivered) == 6 and len(control.batches) == 6
        assert classes.known() == {"or-1"}  # the empty other room left no record
    finally:
        await classes.close()
