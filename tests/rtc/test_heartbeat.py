"""A silent signaling link is noticed within seconds, not TCP's minutes."""

from __future__ import annotations

import asyncio
from dataclasses import replace

from surgery_teach.protocol.messages import Role
from surgery_teach.rtc.session import LiveSession, SessionConfig
from surgery_teach.rtc.signaling_link import DEAD_AFTER
from tests.rtc.proxy import StallableProxy
from tests.timing import seconds


async def test_stalled_link_is_noticed_within_five_seconds_and_rejoined(server_url: str) -> None:
    port = int(server_url.rsplit(":", 1)[1])
    proxy = StallableProxy(port)
    await proxy.start()
    try:
        session = await LiveSession.start(
            SessionConfig(server=proxy.url, room="hb", name="Dr Li", role=Role.MENTOR))
        states: list[str] = []
        session.on("link", states.append)
        await asyncio.wait_for(_until(lambda: session.rtt_ms is not None), seconds(5))
        assert session.rtt_ms is not None and session.rtt_ms < 1000
        me = session.me.id
        loop = asyncio.get_running_loop()
        stalled_at = loop.time()
        proxy.stall()
        await asyncio.wait_for(_until(lambda: states == ["reconnecting"]), seconds(10))
        assert loop.time() - stalled_at < DEAD_AFTER + seconds(2)
        proxy.flowing.set()
        await asyncio.wait_for(_until(lambda: states == ["reconnecting", "live"]), seconds(15))
        assert session.me.id == me and not session.ended.is_set()
        await session.close()
    finally:
        await proxy.close()


async def test_without_reconnect_a_stalled_link_ends_the_session(server_url: str) -> None:
    port = int(server_url.rsplit(":", 1)[1])
    proxy = StallableProxy(port)
    await proxy.start()
    try:
        config = SessionConfig(server=proxy.url, room="hb", name="Dr Li", role=Role.MENTOR)
        session = await LiveSession.start(replace(config, reconnect=False))
        reasons: list[str] = []
        session.on("ended", reasons.append)
        proxy.stall()
        await asyncio.wait_for(session.ended.wait(), seconds(10))
        assert reasons  # the listener heard why
        await session.close()
    finally:
        await proxy.close()


async def _until(predicate) -> None:  # type: ignore[no-untyped-def]
    while not predicate():
        await asyncio.sleep(0.05)
