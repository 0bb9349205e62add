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
# Bytes as well as messages: sixty full 2000-point strokes a second would take the shared
# event loop more than a core. A drawing hand sends at most about 1 MB a second (a full
# stroke's updates, 30 a second); what an undo or redo sends on counts for its sender.
BYTES_PER_SECOND: Final = 1024 * 1024
BYTE_BURST: Final = 4 * 1024 * 1024
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
    bytes_per_second: int = BYTES_PER_SECOND
    """Sustained bytes a second from one connection (its messages, and what its undo and
    redo make the server send); more get ``rate-limited``."""
    byte_burst: int = BYTE_BURST
    """Bytes one connection may send at once before the byte rate applies."""
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
        if self.bytes_per_second < 1024 or self.byte_burst < 1024 * 1024:
            raise ConfigError(
                f"the byte rate must be at least 1024 a second with a burst of at least "
                f"1 MiB, got {self.bytes_per_second} and {self.byte_burst}"
            )
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

    def has(self, now: float, amount: float = 1) -> bool:
        elapsed = max(0.0, now - self._at)
        self._tokens = min(self._capacity, self._tokens + elapsed * self._rate)
        self._at = now
        return self._tokens >= amount

    def take(self, now: float, amount: float = 1) -> bool:
        if not self.has(now, amount):
            return False
        self._tokens -= amount
        return True

    def charge(self, amount: float) -> None:
        """Take ``amount`` more, into debt (down to minus the capacity)."""
        self._tokens = max(-self._capacity, self._tokens - amount)


class MessageRate:
    """One connection's message rate: ``burst`` at once, then ``per_second``.

    Bytes count as well: ``bytes_per_second`` with ``byte_burst`` at once. A message
    beyond either rate is refused. Refused messages draw on a second allowance
    of the same size: a client that uses that up too, by sending more than twice the
    rate for a few seconds, is flooding and is to be closed. A client that only now and
    then goes a little over (a fast drawing hand) loses a few messages and stays.
    """

    def __init__(self, *, per_second: float, burst: int, now: float,
                 bytes_per_second: int = BYTES_PER_SECOND, byte_burst: int = BYTE_BURST) -> None:
        self._allowance = _Bucket(per_second, burst, now)
        self._tolerance = _Bucket(per_second, burst, now)
        self._bytes = _Bucket(bytes_per_second, byte_burst, now)
        self._bytes_tolerance = _Bucket(bytes_per_second, byte_burst, now)

    @classmethod
    def of(cls, limits: Limits, now: float) -> MessageRate:
        return cls(per_second=limits.messages_per_second, burst=limits.message_burst, now=now,
                   bytes_per_second=limits.bytes_per_second, byte_burst=limits.byte_burst)

    def take(self, now: float, size: int = 0) -> Verdict:
        """Count one message of ``size`` bytes received at ``now``."""
        if self._allowance.has(now) and self._bytes.has(now, size):
            self._allowance.take(now)
            self._bytes.take(now, size)
            return Verdict.ACCEPT
        if self._tolerance.has(now) and self._bytes_tolerance.has(now, size):
            self._tolerance.take(now)
            self._bytes_tolerance.take(now, size)
            return Verdict.REFUSE
        return Verdict.CLOSE

    def charge(self, size: int) -> None:
        """Count ``size`` bytes more against the byte rate: what a message made the server
        send to others beyond its own size (an undo that brings back many marks)."""
        if size > 0:
            self._bytes.charge(size)
