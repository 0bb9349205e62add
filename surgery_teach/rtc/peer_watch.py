"""Says, within :data:`CONNECT_TIMEOUT` seconds, why a connection to someone is not up.

aiortc reports a failed connection only after its connectivity checks time out (about a
minute), or never when there was nothing to check (a relay-only connection whose relay
refused the credentials stays ``new``: :mod:`.ice_config`). So each peer connection gets
a timer of its own when its offer, or our answer to its offer, is set. When it runs out
and the connection is not ``connected``:

* an offer of ours that was never answered (a computer that hangs, a broken client) is
  given up: the peer connection is closed and its tracks stopped, so it costs nothing
  (MEDIA-FACTS: a pending offer otherwise drives keyframes for everyone), the session is
  told ``"Dr X's computer did not answer"``, and the offer is made once more after
  :data:`RETRY_AFTER` seconds (after that, only when they join again or change what they
  send: docs/protocol.md, section 7, offer timeout);
* otherwise the failure is explained in plain words
  (:func:`~surgery_teach.rtc.ice_config.explain_ice_failure`), with what the TURN relay
  answers to an allocation of our own (:func:`~surgery_teach.rtc.ice_config.probe_turn`),
  asked as soon as the connection's description shows that the relay gave us nothing.

A connection that comes up after all clears what was said (the text ``""``). Logs name
participants by id and role, never by name, and never show credentials.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Final

from aiortc import RTCPeerConnection

from surgery_teach.protocol.ice import IceServer
from surgery_teach.protocol.messages import ParticipantInfo
from surgery_teach.rtc.ice_config import (
    TurnProbe,
    candidate_types,
    explain_ice_failure,
    plan_ice,
    probe_turn,
)
from surgery_teach.rtc.peer import describe

logger = logging.getLogger(__name__)

CONNECT_TIMEOUT: Final = 15.0
"""Seconds from setting an offer or answer until a connection that is not up is reported
(and an unanswered offer given up). An answer normally comes within a second; gathering
candidates, which comes first, takes at most 5 s (aioice) even when a server is down."""
PROBE_TIMEOUT: Final = 5.0
"""Seconds the TURN relay is given to answer the probe (what aioice gives it)."""
RETRY_AFTER: Final = 30.0
"""Seconds after giving up an unanswered offer until it is made once more."""
PROBE_REUSE: Final = 10.0
"""A probe of the same relay started less than this ago answers for every peer."""

Problem = Callable[[ParticipantInfo, str], None]


@dataclass
class _Watch:
    info: ParticipantInfo
    pc: RTCPeerConnection
    offered: bool
    task: asyncio.Task[None] | None = None
    probe: asyncio.Future[TurnProbe] | None = None


@dataclass
class _Probes:
    """Recent probes by relay, shared by the peers that fail together."""

    started: dict[tuple[str, str], tuple[float, asyncio.Future[TurnProbe]]] = field(
        default_factory=dict)

    def ask(self, server: IceServer, timeout: float) -> asyncio.Future[TurnProbe]:
        loop = asyncio.get_running_loop()
        key = (server.urls[0], server.username)
        recent = self.started.get(key)
        if recent is not None and loop.time() - recent[0] < PROBE_REUSE:
            return recent[1]
        future = asyncio.ensure_future(probe_turn(server, timeout=timeout))
        future.add_done_callback(_retrieve)  # read by whoever waits, if anyone still does
        self.started[key] = (loop.time(), future)
        return future

    def cancel(self) -> None:
        for _, future in self.started.values():
            future.cancel()
        self.started.clear()


class PeerWatch:
    """The timers of one session's peer connections.

    ``servers()`` are the ICE servers the session's connections use; ``on_problem``
    hears ``(participant, text)`` (``""``: the connection came up after all);
    ``give_up(participant)`` closes an unanswered offer's connection; ``retry(id)``
    offers again if that still makes sense (the session checks); ``link_up()`` says
    whether answers can arrive now (while the signaling link is down an offer waits).
    """

    def __init__(self, *, servers: Callable[[], Sequence[IceServer]], on_problem: Problem,
                 give_up: Callable[[ParticipantInfo], Awaitable[None]],
                 retry: Callable[[str], Awaitable[None]],
                 link_up: Callable[[], bool] = lambda: True, timeout: float = CONNECT_TIMEOUT,
                 retry_after: float = RETRY_AFTER, probe_timeout: float = PROBE_TIMEOUT) -> None:
        self._servers = servers
        self._link_up = link_up
        self._on_problem = on_problem
        self._give_up = give_up
        self._retry = retry
        self.timeout = timeout
        self.retry_after = retry_after
        self.probe_timeout = probe_timeout
        self._watches: dict[str, _Watch] = {}
        self._said: dict[str, str] = {}  # participant id -> the problem last told
        self._unanswered: dict[str, int] = {}  # offers given up since the last news
        self._retries: dict[str, asyncio.Task[None]] = {}
        self._probes = _Probes()
        self._logged_plan: tuple[str | None, str | None] | None = None

    @property
    def watching(self) -> frozenset[str]:
        """Participants whose connection's timer runs."""
        return frozenset(self._watches)

    @property
    def retrying(self) -> frozenset[str]:
        """Participants whose unanswered offer will be made once more."""
        return frozenset(self._retries)

    def started(self, info: ParticipantInfo, pc: RTCPeerConnection, *, offered: bool) -> None:
        """Our offer to ``info`` (``offered``), or our answer to theirs, was just set on
        ``pc``: start its timer (replacing any earlier one for them)."""
        self.forget(info.id)
        watch = _Watch(info, pc, offered)
        self._watches[info.id] = watch
        servers = self._servers()
        plan = plan_ice(servers)
        self._log_plan(plan.stun, plan.turn.urls[0] if plan.turn else None, plan.unused)
        if plan.turn is not None and "relay" not in candidate_types(pc.localDescription.sdp):
            watch.probe = self._probes.ask(plan.turn, self.probe_timeout)  # ask the relay why
        watch.task = asyncio.ensure_future(self._run(watch))

        @pc.on("connectionstatechange")
        def _on_state() -> None:
            if pc.connectionState == "connected":
                self._connected(watch)

    def news(self, info: ParticipantInfo) -> None:
        """They joined again or changed what they send: the session starts over with them
        by itself (what was said about them is withdrawn until it happens again), and a
        given-up offer may be retried again later."""
        self._unanswered.pop(info.id, None)
        if self._said.pop(info.id, ""):
            self._on_problem(info, "")
        retry = self._retries.pop(info.id, None)
        if retry is not None:
            retry.cancel()

    def forget(self, participant_id: str) -> None:
        """Their connection is closed (or being replaced): stop its timer."""
        watch = self._watches.pop(participant_id, None)
        if watch is not None and watch.task is not None and (
                watch.task is not asyncio.current_task()):
            watch.task.cancel()

    def stop(self) -> None:
        """The session is closing: no more timers, probes or retries."""
        for participant_id in list(self._watches):
            self.forget(participant_id)
        for retry in self._retries.values():
            retry.cancel()
        self._retries.clear()
        self._probes.cancel()

    # -- the timer ------------------------------------------------------------------------

    def _connected(self, watch: _Watch) -> None:
        participant_id = watch.info.id
        if self._watches.get(participant_id) is watch:
            self.forget(participant_id)
        self._unanswered.pop(participant_id, None)
        if self._said.pop(participant_id, ""):
            logger.info("peer %s: connected after all", describe(watch.info))
            self._on_problem(watch.info, "")

    async def _run(self, watch: _Watch) -> None:
        await asyncio.sleep(self.timeout)
        pc = watch.pc
        while watch.offered and not self._link_up() and pc.signalingState == "have-local-offer":
            await asyncio.sleep(self.timeout)  # the answer cannot come before the link is back
        if self._watches.get(watch.info.id) is not watch or pc.connectionState == "connected":
            return
        if watch.offered and pc.signalingState == "have-local-offer":
            del self._watches[watch.info.id]
            await self._unanswered_offer(watch.info)
            return
        probe = await self._probe_result(watch)
        if self._watches.get(watch.info.id) is not watch or pc.connectionState == "connected":
            return
        del self._watches[watch.info.id]
        local, remote = _candidate_facts(pc)
        servers = self._servers()

        def why(name: str) -> str:
            return explain_ice_failure(name, servers=servers, local_types=local,
                                       remote_types=remote, probe=probe)

        logger.warning("peer %s: not connected after %g s (%s): %s", describe(watch.info),
                       self.timeout, pc.connectionState, why(describe(watch.info)))
        self._tell(watch.info, why(watch.info.name))

    async def _probe_result(self, watch: _Watch) -> TurnProbe | None:
        """What the relay answered to the probe started with the timer (None if none)."""
        if watch.probe is None:
            return None
        if watch.probe.cancelled():
            return None
        try:  # long done by now, unless the machine is very busy
            return await asyncio.wait_for(asyncio.shield(watch.probe), self.probe_timeout)
        except TimeoutError:
            return None
        except Exception:  # probe_turn answers every network failure; anything else is a bug
            logger.exception("the TURN probe failed")
            return None

    async def _unanswered_offer(self, info: ParticipantInfo) -> None:
        count = self._unanswered[info.id] = self._unanswered.get(info.id, 0) + 1
        logger.warning("peer %s: no answer to our offer in %g s; offer dropped (%d)",
                       describe(info), self.timeout, count)
        await self._give_up(info)
        if count == 1:
            text = (f"{info.name}'s computer did not answer (no reply to the offer to "
                    f"connect in {self.timeout:g} s); trying once more in "
                    f"{self.retry_after:g} s.")
            self._retries[info.id] = asyncio.ensure_future(self._retry_later(info.id))
        else:
            text = (f"{info.name}'s computer did not answer again; it is tried again when "
                    "they rejoin or change what they send.")
        self._tell(info, text)

    async def _retry_later(self, participant_id: str) -> None:
        await asyncio.sleep(self.retry_after)
        self._retries.pop(participant_id, None)
        await self._retry(participant_id)

    def _tell(self, info: ParticipantInfo, text: str) -> None:
        if self._said.get(info.id) != text:
            self._said[info.id] = text
            self._on_problem(info, text)

    def _log_plan(self, stun: str | None, turn: str | None, unused: tuple[str, ...]) -> None:
        if (stun, turn) != self._logged_plan and (stun or turn or unused):
            self._logged_plan = (stun, turn)
            logger.info("ICE: STUN %s, TURN %s%s", stun or "none", turn or "none",
                        f" (not used: {', '.join(unused)})" if unused else "")


def _retrieve(future: asyncio.Future[TurnProbe]) -> None:
    if not future.cancelled():
        future.exception()


def _candidate_facts(pc: RTCPeerConnection) -> tuple[frozenset[str], frozenset[str] | None]:
    """The candidate types of both descriptions; the other side's are unknown unless its
    description says it listed them all (``end-of-candidates``: it does not trickle)."""
    local = candidate_types(pc.localDescription.sdp)
    remote = pc.remoteDescription
    complete = remote is not None and "a=end-of-candidates" in remote.sdp
    return local, candidate_types(remote.sdp) if complete else None
