"""Carrying out :mod:`~signaling_server.media_server.rooms`'s commands on a running Janus.

:class:`MediaServerControl` is the signaling server's own line to Janus: a Janus session
authorised by the API secret with one VideoRoom handle (to create and destroy rooms and
change who is allowed in), plus the admin API (to add and remove tokens). A failure
raises MediaServerError; the caller keeps the room peer to peer and says why. When the
session ends (Janus stopped or restarted), :meth:`MediaServerControl.wait_lost` returns
and the caller connects again (:mod:`signaling_server.classes`).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterable

from signaling_server.media_server.admin import JanusAdmin
from signaling_server.media_server.config_dir import MediaServerAccess
from signaling_server.media_server.rooms import (
    AddToken,
    AllowTokens,
    Command,
    CreateRoom,
    DestroyRoom,
    DisallowTokens,
    Kick,
    RecreateRoom,
    RemoveToken,
)
from surgery_teach.errors import MediaServerError, MediaServerRefusedError
from surgery_teach.janus import videoroom
from surgery_teach.janus.messages import (
    NO_SUCH_FEED,
    NO_SUCH_ROOM,
    VIDEOROOM,
    Credentials,
    plugin_data,
)
from surgery_teach.janus.session import JanusSession, PluginHandle

logger = logging.getLogger("signaling_server.media_server")

ROOM_EXISTS = 427
"""VideoRoom's answer to ``create`` for a room number in use."""


class MediaServerControl:
    """The signaling server's connection to Janus (create with :meth:`connect`)."""

    def __init__(self, access: MediaServerAccess, session: JanusSession, handle: PluginHandle,
                 admin: JanusAdmin) -> None:
        self.access = access
        self._session = session
        self._handle = handle
        self._admin = admin

    @classmethod
    async def connect(cls, access: MediaServerAccess, *, api_url: str | None = None,
                      timeout: float = 5.0) -> MediaServerControl:
        """Check the admin API answers and open a session with the API secret.

        ``api_url`` overrides ``access.api_url`` (e.g. 127.0.0.1 when Janus listens on
        0.0.0.0)."""
        admin = JanusAdmin(access.admin_url, access.secrets.admin_secret, timeout=timeout)
        try:
            await admin.ping()
            session = await JanusSession.connect(
                api_url or _local_url(access.api_url),
                Credentials(api_secret=access.secrets.api_secret), timeout=timeout)
        except BaseException:
            await admin.close()
            raise
        try:
            handle = await session.attach(VIDEOROOM, timeout=timeout)
        except BaseException:
            await session.close()
            await admin.close()
            raise
        return cls(access, session, handle, admin)

    async def carry_out(self, commands: Iterable[Command]) -> None:
        """Run ``commands`` in order. A room already gone (426) counts as destroyed."""
        for command in commands:
            await self._one(command)

    async def _one(self, command: Command) -> None:
        secrets_ = self.access.secrets
        if isinstance(command, AddToken):
            await self._admin.add_token(command.token)
        elif isinstance(command, RemoveToken):
            await self._admin.remove_token(command.token)
        elif isinstance(command, CreateRoom):
            await self._handle.request(videoroom.create_room(command.spec,
                                                             secrets_.room_admin_key))
            logger.info("media-server room %s created", command.spec.room_id)
        elif isinstance(command, AllowTokens | DisallowTokens):
            action = "add" if isinstance(command, AllowTokens) else "remove"
            await self._handle.request(videoroom.change_allowed(
                command.room_id, command.secret, action, command.tokens))
        elif isinstance(command, RecreateRoom):
            spec = command.spec
            try:
                await self._handle.request(videoroom.create_room(spec, secrets_.room_admin_key))
            except MediaServerRefusedError as exc:
                if exc.code != ROOM_EXISTS:
                    raise
                # Janus kept the room (only our line to it broke): let everyone in again
                await self._handle.request(videoroom.change_allowed(
                    spec.room_id, spec.secret, "add", spec.allowed_tokens))
            logger.info("media-server room %s made again", spec.room_id)
        elif isinstance(command, Kick):
            await self._kick(command)
        elif isinstance(command, DestroyRoom):
            try:
                await self._handle.request(videoroom.destroy_room(command.room_id,
                                                                  command.secret))
            except MediaServerRefusedError as exc:
                if exc.code != NO_SUCH_ROOM:
                    raise
            logger.info("media-server room %s destroyed", command.room_id)
        else:  # pragma: no cover - the union is closed
            raise TypeError(f"unknown media-server command {command!r}")

    async def _kick(self, command: Kick) -> None:
        """Throw out every participant that joined as ``command.display``."""
        try:
            reply = await self._handle.request(videoroom.list_participants(command.room_id))
        except MediaServerRefusedError as exc:
            if exc.code == NO_SUCH_ROOM:
                return
            raise
        for feed_id, display in videoroom.read_participants(plugin_data(reply)):
            if display != command.display:
                continue
            try:
                await self._handle.request(videoroom.kick(command.room_id, command.secret,
                                                          feed_id))
            except MediaServerRefusedError as exc:
                if exc.code != NO_SUCH_FEED:  # gone by itself meanwhile
                    raise
            logger.info("media-server room %s: participant %s thrown out", command.room_id,
                        command.display)

    async def keep_only_tokens(self, kept: set[str]) -> int:
        """Withdraw every token Janus holds but ``kept`` lacks (those of participants who
        left while our line to Janus was down); how many went."""
        reply = await self._admin.request("list_tokens")
        data = reply.get("data")
        items = data.get("tokens") if isinstance(data, dict) else None
        stray = [item["token"] for item in items or ()
                 if isinstance(item, dict) and isinstance(item.get("token"), str)
                 and item["token"] not in kept]
        for token in stray:
            await self._admin.remove_token(token)
        return len(stray)

    async def wait_lost(self) -> str:
        """Wait until the line to Janus ends (Janus stopped, restarted, or timed us out)."""
        return await self._session.wait_ended()

    async def close(self) -> None:
        with contextlib.suppress(MediaServerError):
            await self._session.close()
        await self._admin.close()

    async def __aenter__(self) -> MediaServerControl:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


def _local_url(api_url: str) -> str:
    """The API URL as reachable from this box: a wildcard listen address means loopback."""
    return api_url.replace("://0.0.0.0:", "://127.0.0.1:").replace("://[::]:", "://[::1]:")
