"""What the signaling server writes to its log and audit log about seats and limits."""

from __future__ import annotations

import logging

from signaling_server.audit import AuditEvent, AuditLog, AuditRecord
from signaling_server.connection import Connection
from signaling_server.logs import log_recording
from surgery_teach.protocol import ErrorCode, ErrorReply, Join, Seat
from surgery_teach.protocol.durable import DurableRooms
from surgery_teach.protocol.passes import RoomPass

logger = logging.getLogger("signaling_server")


class AuditNotes:
    """Audit records about seats, recordings and broken limits, mixed into the server."""

    _audit: AuditLog
    _rooms: DurableRooms[Connection]

    def _note_limit(self, connection: Connection, code: int, limit: str) -> None:
        """Log and audit that ``connection`` is being closed for breaking ``limit``."""
        seat = self._rooms.seat(connection)
        logger.warning(
            "closing code=%d reason=%s address=%s room=%s participant=%s",
            code,
            limit,
            connection.address,
            seat.room if seat else "-",
            seat.participant.id if seat else "-",
        )
        self._audit_seat(AuditEvent.CLOSE, limit, connection, seat)

    def _audit_seat(
        self,
        event: AuditEvent,
        outcome: str,
        connection: Connection,
        seat: Seat | None,
        *,
        by: str | None = None,
        action: str | None = None,
    ) -> None:
        fields = pass_fields(connection.room_pass)
        if seat is not None:
            fields.update(
                room=seat.room,
                role=seat.participant.role.value,
                name=seat.participant.name,
                participant=seat.participant.id,
            )
        self._audit.write(
            AuditRecord(
                event=event,
                outcome=outcome,
                action=action,
                by=by,
                address=connection.address,
                **fields,
            )
        )

    def _audit_recording(self, connection: Connection, seat: Seat, outcome: str) -> None:
        """Log and audit that ``seat`` started (``start``) or stopped recording, by
        ``record`` (``stop``) or by leaving the room (``left``)."""
        log_recording(seat, outcome)
        self._audit_seat(AuditEvent.RECORDING, outcome, connection, seat)

    def _audit_refused_join(self, connection: Connection, join: Join, error: ErrorReply) -> None:
        if error.code not in (ErrorCode.NOT_ALLOWED, ErrorCode.FORBIDDEN, ErrorCode.ROOM_FULL):
            return  # a misuse of the protocol (already joined), not a refusal to let in
        fields = pass_fields(connection.room_pass)
        fields.update(room=join.room, role=join.role.value, name=join.name)
        self._audit.write(
            AuditRecord(
                event=AuditEvent.DENIAL,
                outcome=error.code,
                action="join",
                address=connection.address,
                **fields,
            )
        )


def pass_fields(room_pass: RoomPass | None) -> dict[str, str | None]:
    """The audit fields a room token vouches for (none without a token)."""
    if room_pass is None:
        return {}
    return {
        "room": room_pass.room,
        "role": room_pass.role.value,
        "name": room_pass.name,
        "user": room_pass.user,
    }
