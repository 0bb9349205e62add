"""Janus's admin API (HTTP on a loopback address): add and remove participants' tokens.

Janus runs with ``token_auth``: a participant's client may talk to Janus only with a token
added here, limited to the VideoRoom plugin, and loses access the moment it is removed.
The admin secret travels only over the loopback connection and is never logged.
"""

from __future__ import annotations

import secrets
from typing import Any

import aiohttp

from surgery_teach.errors import MediaServerError, MediaServerUnavailableError
from surgery_teach.janus.messages import VIDEOROOM, check_reply

ADMIN_TIMEOUT = 5.0


class JanusAdmin:
    """Requests to the admin API at ``url`` with ``admin_secret``."""

    def __init__(self, url: str, admin_secret: str, *, timeout: float = ADMIN_TIMEOUT) -> None:
        self.url = url
        self._secret = admin_secret
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._http: aiohttp.ClientSession | None = None

    async def request(self, kind: str, **fields: Any) -> dict[str, Any]:
        """One admin request (``ping``, ``add_token``, ``list_tokens``...): its success
        reply, or MediaServerRefusedError / MediaServerUnavailableError."""
        message = {"janus": kind, "transaction": secrets.token_hex(6),
                   "admin_secret": self._secret, **fields}
        if self._http is None:
            self._http = aiohttp.ClientSession(timeout=self._timeout)
        try:
            async with self._http.post(self.url, json=message) as response:
                reply = await response.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise MediaServerUnavailableError(
                f"cannot reach the media server's admin API at {self.url} "
                f"({exc.__class__.__name__}); is Janus running on this box "
                "(python -m signaling_server media-server --start)?", self.url) from exc
        except ValueError as exc:
            raise MediaServerError(f"the admin API at {self.url} did not answer JSON: is "
                                   "it Janus's admin endpoint (…/admin)?") from exc
        return check_reply(kind, reply)

    async def ping(self) -> None:
        await self.request("ping")

    async def add_token(self, token: str, plugins: tuple[str, ...] = (VIDEOROOM,)) -> None:
        """Let ``token``'s holder use Janus, with only ``plugins``."""
        await self.request("add_token", token=token, plugins=list(plugins))

    async def remove_token(self, token: str) -> None:
        """Withdraw ``token``: the holder's next request is refused (403)."""
        await self.request("remove_token", token=token)

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()
            self._http = None

    async def __aenter__(self) -> JanusAdmin:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
