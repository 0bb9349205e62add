"""The STUN and TURN servers each participant gets in its ``welcome``.

The room rules (:mod:`surgery_teach.protocol.room`) stay pure and leave
``Welcome.ice_servers`` empty; the server's handler passes every outbox through
:meth:`IceHandout.fill`, which gives each ``welcome`` (a first join and every rejoin) the
configured servers, with TURN REST credentials made for that participant at that moment
(:func:`~surgery_teach.protocol.ice.ice_servers_for`). Credentials never reach a log:
only the URLs and how credentials are made are logged, once, at start.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable
from typing import TypeVar

from signaling_server.config import ServerConfig
from surgery_teach.protocol import Outbox, Welcome
from surgery_teach.protocol.ice import check_server_ice, ice_servers_for

K = TypeVar("K")


class IceHandout:
    """Fills in the ICE servers of the ``welcome`` messages of an outbox."""

    def __init__(self, config: ServerConfig, *, clock: Callable[[], float] = time.time) -> None:
        self._servers = config.ice_servers
        self._secret = config.turn_secret
        self._ttl = config.turn_credential_ttl
        self._clock = clock

    def fill(self, outbox: Outbox[K]) -> Outbox[K]:
        """``outbox`` with each ``welcome`` carrying its participant's ICE servers."""
        if not self._servers or not any(isinstance(m, Welcome) for _, m in outbox):
            return outbox
        return [(recipient, self._welcome(message) if isinstance(message, Welcome) else message)
                for recipient, message in outbox]

    def _welcome(self, welcome: Welcome) -> Welcome:
        servers = ice_servers_for(welcome.you.id, self._servers, turn_secret=self._secret,
                                  now=self._clock(), ttl=self._ttl)
        return dataclasses.replace(welcome, ice_servers=servers)

    def log_setup(self, logger: logging.Logger) -> None:
        """One line naming the servers (never a password or the secret), and the warnings
        of :func:`check_server_ice`."""
        if not self._servers:
            return
        credentials = ("made per participant (TURN REST, valid "
                       f"{self._ttl / 3600:g} h)" if self._secret is not None else "as given")
        logger.info("ice servers=%s turn-credentials=%s",
                    "; ".join(server.describe() for server in self._servers), credentials)
        for warning in check_server_ice(self._servers, self._secret):
            logger.warning("%s", warning)
