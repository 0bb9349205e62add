"""How much one client may ask of the signaling server, and the rules that enforce it.

:class:`Limits` holds the numbers, each with its documented default (docs/protocol.md,
section 9). :class:`MessageRate` decides, message by message, whether a client is within
its rate. No I/O and no clock of its own: the caller passes the time.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum
from typing import Final

from surgery_teach.errors import ConfigError

# A drawing mentor sends up to 30 updates a second (annotations.tools.MAX_RATE) besides
# pings and chat: the sustained rate leaves room for that, and floods still stand out.
MESSAGES_PER_SECOND: Final = 60.0
MESSAGE_BURST: Final = 120
CONNECTIONS_PER_ADDRESS: Final = 20
OPEN_TIMEOUT: Final = 10.0
IDLE_TIMEOUT: Final = 60.0
SEND_BUFFER_BYTES: Final = 4 * 1024 * 1024


@dataclass(frozen=True, kw_only=True)
class Limits:
    """What one client may use; checked on construction (ConfigError)."""

    messages_per_second: float = MESSAGES_PER_SECOND
    """Sustained messages a second from one connection; more get ``rate-limited``."""
    message_burst: int = MESSAGE_BURST
    """Messages one connection may send at once before the rate applies."""
    connections_per_address: int = CONNECTIONS_PER_ADDRESS
    """Open websocket connections from one IP address; the next handshake gets HTTP 429."""
    open_timeout: float = OPEN_TIMEOUT
    """Seconds a client has for the TLS and websocket handshakes."""
    idle_timeout: float = IDLE_TIMEOUT
    """Seconds without a message or websocket ping from the client before it is closed."""
    send_buffer_bytes: int = SEND_BUFFER_BYTES
    """Bytes waiting to be sent to one client above which it is dropped as too slow.

    Above the largest single message the server sends (a ``chat-history`` reaches about
    1.7 MB), so that a slow but reading client is not dropped for one large message.
    """

    def __post_init__(self) -> None:
        if not (math.isfinite(self.messages_per_second) and self.messages_per_second > 0):
            raise ConfigError(
                f"messages per second must be above 0, got {self.messages_per_second:g}"
            )
        if self.message_burst < 1:
            raise ConfigError(f"message burst must be at least 1, got {self.message_burst}")
        if self.connections_per_address < 1:
            raise ConfigError(
                f"connections per address must be at least 1, got {self.connections_per_address}"
            )
        for name in ("open_timeout", "idle_timeout"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ConfigError(f"{name.replace('_', ' ')} must be above 0 s, got {value:g}")
        if self.send_buffer_bytes < 64 * 1024:
            raise ConfigError(
                f"send buffer must be at least 65536 bytes, got {self.send_buffer_bytes}"
            )


class Verdict(Enum):
    """What to do with one message."""

    ACCEPT = "accept"
    REFUSE = "refuse"
    """Answer ``rate-limited``; the message has no effect."""
    CLOSE = "close"
    """The client keeps flooding: close the connection (1008)."""


class _Bucket:
    """A token bucket: ``capacity`` at once, refilled at ``rate`` a second."""

    def __init__(self, rate: float, capacity: int, now: float) -> None:
        self._rate, self._capacity = rate, float(capacity)
        self._tokens, self._at = float(capacity), now

    def take(self, now: float) -> bool:
        elapsed = max(0.0, now - self._at)
        self._tokens = min(self._capacity, self._tokens + elapsed * self._rate)
        self._at = now
        if self._tokens < 1:
            return False
        self._tokens -= 1
        return True


class MessageRate:
    """One connection's message rate: ``burst`` at once, then ``per_second``.

    A message beyond the rate is refused. Refused messages draw on a second allowance
    of the same size: a client that uses that up too, by sending more than twice the
    rate for a few seconds, is flooding and is to be closed. A client that only now and
    then goes a little over (a fast drawing hand) loses a few messages and stays.
    """

    def __init__(self, *, per_second: float, burst: int, now: float) -> None:
        self._allowance = _Bucket(per_second, burst, now)
        self._tolerance = _Bucket(per_second, burst, now)

    @classmethod
    def of(cls, limits: Limits, now: float) -> MessageRate:
        return cls(per_second=limits.messages_per_second, burst=limits.message_burst, now=now)

    def take(self, now: float) -> Verdict:
        """Count one message received at ``now``."""
        if self._allowance.take(now):
            return Verdict.ACCEPT
        return Verdict.REFUSE if self._tolerance.take(now) else Verdict.CLOSE
