"""Janus hangs up one handle's peer connection (admin API ``hangup_webrtc``), as it does
when that connection's DTLS or ICE fails: ``python -m tests.rtc.janus_hangup DIR S H``
(the media server's configuration folder, the session and the handle). Run it where the
admin API listens (the lab's data centre)."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from signaling_server.media_server.admin import JanusAdmin
from signaling_server.media_server.config_dir import read_access


async def hang_up(folder: Path, session_id: int, handle_id: int) -> None:
    access = read_access(folder)
    async with JanusAdmin(access.admin_url, access.secrets.admin_secret) as admin:
        await admin.request("hangup_webrtc", session_id=session_id, handle_id=handle_id)


if __name__ == "__main__":
    asyncio.run(hang_up(Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])))
    print("hung up", flush=True)
