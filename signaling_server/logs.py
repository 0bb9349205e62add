"""The server log: one line per event, with ids, roles and codes only.

Never names, tokens, chat text, annotations, SDP or candidates: error texts may quote what
a client sent, so only error codes are logged.
"""

from __future__ import annotations

import logging

from surgery_teach.protocol import ErrorReply, GrantDraw, Seat

logger = logging.getLogger("signaling_server")


def log_arrival(seat: Seat) -> None:
    logger.info(
        "join room=%s participant=%s role=%s",
        seat.room,
        seat.participant.id,
        seat.participant.role.value,
    )


def log_departure(seat: Seat, reason: str) -> None:
    logger.info(
        "leave room=%s participant=%s role=%s reason=%s",
        seat.room,
        seat.participant.id,
        seat.participant.role.value,
        reason,
    )


def log_publishes(seat: Seat) -> None:
    logger.info(
        "publish room=%s participant=%s role=%s video=%d audio=%s",
        seat.room,
        seat.participant.id,
        seat.participant.role.value,
        seat.participant.publishes.video,
        "yes" if seat.participant.publishes.audio else "no",
    )


def log_grant(mentor: Seat, grant: GrantDraw) -> None:
    logger.info(
        "draw room=%s participant=%s allowed=%s by=%s",
        mentor.room,
        grant.to,
        "yes" if grant.allowed else "no",
        mentor.participant.id,
    )


def log_error(seat: Seat | None, reply: ErrorReply) -> None:
    logger.warning(
        "error code=%s room=%s participant=%s role=%s",
        reply.code,
        seat.room if seat else "-",
        seat.participant.id if seat else "-",
        seat.participant.role.value if seat else "-",
    )


def log_recording(seat: Seat, outcome: str) -> None:
    """A participant started or stopped recording (``start``, ``stop``, ``left``)."""
    logger.info(
        "recording room=%s participant=%s role=%s outcome=%s",
        seat.room,
        seat.participant.id,
        seat.participant.role.value,
        outcome,
    )
