"""The signaling server's side of a class room, driven line by line (test tool).

``python -m tests.signaling_server.media_server.control_shell --config-dir DIR`` runs
where Janus runs (its admin API is on 127.0.0.1 there). It reads one JSON command a line
on stdin -- ``{"admit": [room, participant]}``, ``{"release": [room, participant]}``,
``{"close": room}`` -- carries it out with :class:`ClassRooms` and
:class:`MediaServerControl`, exactly as the signaling server will, and answers one JSON
line numbered from 1: ``{"n": 1, "ok": true, "room_id": ..., "token": ...}`` or
``{"n": 1, "ok": false, "error": ...}``. It prints tokens: a test tool only.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any

from signaling_server.media_server.config_dir import read_access
from signaling_server.media_server.room_control import MediaServerControl
from signaling_server.media_server.rooms import ClassRooms
from surgery_teach.errors import MediaServerError


async def _handle(command: dict[str, Any], rooms: ClassRooms,
                  control: MediaServerControl) -> dict[str, Any]:
    if "admit" in command:
        room, participant = command["admit"]
        grant, commands = rooms.admit(room, participant)
        await control.carry_out(commands)
        return {"ok": True, "room_id": grant.room_id, "token": grant.token,
                "commands": [type(c).__name__ for c in commands]}
    if "release" in command:
        commands = rooms.release(*command["release"])
        await control.carry_out(commands)
        return {"ok": True, "commands": [type(c).__name__ for c in commands]}
    if "close" in command:
        commands = rooms.close(command["close"])
        await control.carry_out(commands)
        return {"ok": True, "commands": [type(c).__name__ for c in commands]}
    return {"ok": False, "error": f"unknown command {sorted(command)}"}


async def _main(folder: Path) -> None:
    access = read_access(folder)
    rooms = ClassRooms(bitrate=1_500_000, publishers=2)
    async with await MediaServerControl.connect(access) as control:
        print(json.dumps({"ready": True}), flush=True)
        loop = asyncio.get_running_loop()
        number = 0
        while True:
            line = await loop.run_in_executor(None, sys.stdin.readline)
            if not line:
                return
            try:
                answer = await _handle(json.loads(line), rooms, control)
            except MediaServerError as exc:
                answer = {"ok": False, "error": str(exc),
                          "code": getattr(exc, "code", None)}
            number += 1
            print(json.dumps({"n": number, **answer}), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--config-dir", required=True)
    asyncio.run(_main(Path(parser.parse_args().config_dir)))


if __name__ == "__main__":
    main()
