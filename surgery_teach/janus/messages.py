"""The Janus API on the wire: the requests we send and how a reply is judged, as plain data.

Nothing here touches a socket: :mod:`surgery_teach.janus.session` moves these dicts.
Every request carries either a participant's token (``token``) or the signaling server's
API secret (``apisecret``), see :class:`Credentials`. A refusal, from Janus's core
(``{"janus": "error"}``) or from the VideoRoom plugin (``error_code`` in its data),
becomes :class:`~surgery_teach.errors.MediaServerRefusedError` carrying Janus's code.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from surgery_teach.errors import MediaServerError, MediaServerRefusedError

VIDEOROOM = "janus.plugin.videoroom"
API_SUBPROTOCOL = "janus-protocol"

UNAUTHORIZED = 403
UNAUTHORIZED_PLUGIN = 405
SESSION_NOT_FOUND = 458
NO_SUCH_ROOM = 426
NO_SUCH_FEED = 428
NOT_ALLOWED_IN_ROOM = 433


@dataclass(frozen=True)
class Credentials:
    """How requests are authorised: a participant's ``token`` (added through the admin
    API), or the signaling server's ``api_secret``. Never logged (``repr`` hides them)."""

    token: str = field(default="", repr=False)
    api_secret: str = field(default="", repr=False)

    def __post_init__(self) -> None:
        if bool(self.token) == bool(self.api_secret):
            raise ValueError("Credentials need exactly one of token and api_secret")

    def fields(self) -> dict[str, str]:
        return {"token": self.token} if self.token else {"apisecret": self.api_secret}


def core_request(kind: str, transaction: str, credentials: Credentials, *,
                 session_id: int | None = None, handle_id: int | None = None,
                 **extra: Any) -> dict[str, Any]:
    """A Janus core request (``create``, ``attach``, ``message``, ``keepalive``...)."""
    message: dict[str, Any] = {"janus": kind, "transaction": transaction,
                               **credentials.fields()}
    if session_id is not None:
        message["session_id"] = session_id
    if handle_id is not None:
        message["handle_id"] = handle_id
    message.update(extra)
    return message


def plugin_message(transaction: str, credentials: Credentials, *, session_id: int,
                   handle_id: int, body: Mapping[str, Any],
                   jsep: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """A request to the plugin behind a handle, with an SDP offer/answer if ``jsep``."""
    extra: dict[str, Any] = {"body": dict(body)}
    if jsep is not None:
        extra["jsep"] = dict(jsep)
    return core_request("message", transaction, credentials, session_id=session_id,
                        handle_id=handle_id, **extra)


def jsep(kind: str, sdp: str) -> dict[str, Any]:
    """An offer or answer with every candidate in it (aiortc gathers before it answers)."""
    if kind not in ("offer", "answer"):
        raise ValueError(f"jsep type must be offer or answer, not {kind!r}")
    return {"type": kind, "sdp": sdp, "trickle": False}


def plugin_data(reply: Mapping[str, Any]) -> dict[str, Any]:
    """The plugin's part of a reply or event (empty when there is none)."""
    plugindata = reply.get("plugindata")
    if isinstance(plugindata, dict) and isinstance(plugindata.get("data"), dict):
        return plugindata["data"]
    return {}


def check_reply(request: str, reply: object) -> dict[str, Any]:
    """``reply`` if it is a success; MediaServerRefusedError for a refusal by Janus or its
    plugin, MediaServerError if it is not a Janus reply at all."""
    if not isinstance(reply, dict) or not isinstance(reply.get("janus"), str):
        raise MediaServerError(f"the media server answered {request!r} with something that "
                               "is not a Janus message: is the URL the Janus API's?")
    if reply["janus"] == "error":
        error = reply.get("error")
        code, reason = (_code_and_reason(error.get("code"), error.get("reason"))
                        if isinstance(error, dict) else (0, "no reason given"))
        raise MediaServerRefusedError(request, code, reason)
    data = plugin_data(reply)
    if "error_code" in data or "error" in data:
        code, reason = _code_and_reason(data.get("error_code"), data.get("error"))
        raise MediaServerRefusedError(request, code, reason)
    return reply


def _code_and_reason(code: object, reason: object) -> tuple[int, str]:
    number = code if isinstance(code, int) and not isinstance(code, bool) else 0
    text = reason if isinstance(reason, str) and reason.isprintable() else "no reason given"
    return number, text[:300]


def reply_id(request: str, reply: Mapping[str, Any]) -> int:
    """The ``data.id`` of a ``create``/``attach`` success (the session or handle id)."""
    data = reply.get("data")
    value = data.get("id") if isinstance(data, dict) else None
    if not isinstance(value, int) or isinstance(value, bool):
        raise MediaServerError(f"the media server's answer to {request!r} has no id")
    return value


def answer_sdp(request: str, reply: Mapping[str, Any], kind: str) -> str:
    """The SDP of the ``kind`` ("offer"/"answer") JSEP in an event; MediaServerError if absent."""
    value = reply.get("jsep")
    if (not isinstance(value, dict) or value.get("type") != kind
            or not isinstance(value.get("sdp"), str)):
        raise MediaServerError(f"the media server's answer to {request!r} has no SDP {kind}")
    return str(value["sdp"])
