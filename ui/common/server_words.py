"""What the server and the core say by code, in the user's language.

The signaling server refuses with an ``error`` whose ``code`` is machine-readable
(``room-full``, ``bad-message``, ``forbidden``...) and whose ``message`` is an English
sentence for logs and developers; a room token is refused with a :class:`TokenProblem`
code; the room's ``media-route`` says in English why the video stays peer to peer. Here
each known code becomes a plain translated sentence with the fix. Where one code covers
several situations (``forbidden`` for drawing, freezing, class mode...), the English
message picks the sentence. Only an unknown code or reason keeps the English words,
behind a translated lead-in, so that a newer server is never silent.
"""

from __future__ import annotations

from surgery_teach.protocol.ice import ICE_SERVER_SYNTAX
from surgery_teach.protocol.tokens import TokenProblem
from surgery_teach.wire.fields import MAX_NAME_CHARS, ErrorCode
from ui.i18n import tr


def refusal_text(code: str, message: str, *, room: str = "") -> str:
    """The server's ``error`` (``code``, English ``message``) as one sentence with the fix."""
    words = message.lower()
    match code:
        case ErrorCode.ROOM_FULL:
            return tr("Room {room} is full. Try again when someone leaves, or use another "
                      "room.", room=room)
        case ErrorCode.SERVER_FULL:
            return tr("The server is full. Try again later, or ask its operator.")
        case ErrorCode.NOT_ALLOWED:
            return _not_allowed(words, room)
        case ErrorCode.FORBIDDEN:
            return _forbidden(words)
        case ErrorCode.BAD_MESSAGE:
            return _bad_message(words)
        case ErrorCode.REMOVED:
            return tr("You were removed from room {room}.", room=room)
        case ErrorCode.TOO_LARGE if "shared pictures" in words:
            return tr("The pictures shared in this room are at their limit. Ask another "
                      "sharer to stop sharing, or share a smaller picture.")
        case ErrorCode.UNKNOWN_SHARE:
            return tr("That picture is no longer shared.")
        case ErrorCode.TOO_LARGE:
            return tr("That was too large to send (a very long message or drawing). Send "
                      "less at once.")
        case ErrorCode.RATE_LIMITED:
            return tr("You are sending too much too fast, and the server left some of it "
                      "out. Wait a moment, then go on.")
        case ErrorCode.BOARD_FULL:
            return tr("The drawing board is full. Clear or unpin some marks, or return a "
                      "frozen picture to live.")
        case ErrorCode.BAD_ANNOTATION:
            return tr("That mark has changed meanwhile (removed, or faded away); draw it "
                      "again.")
        case ErrorCode.UNKNOWN_PARTICIPANT:
            return tr("That person is no longer in the room.")
        case ErrorCode.NOTHING_TO_UNDO:
            return tr("There is nothing of yours to undo.")
        case ErrorCode.NOT_JOINED:
            return tr("You are not in the room at the moment; the client joins again by "
                      "itself.")
        case (ErrorCode.BAD_JSON | ErrorCode.UNKNOWN_TYPE | ErrorCode.UNSUPPORTED_VERSION
              | ErrorCode.ALREADY_JOINED):
            return _versions()
        case TokenProblem.MISSING | TokenProblem.INVALID | TokenProblem.EXPIRED:
            return token_problem_text(code)
    return tr("The server refused: {detail}", detail=message)


def _not_allowed(words: str, room: str) -> str:
    if "removed you" in words or "you were removed" in words:
        return tr("You were removed from room {room} and cannot join it again while your "
                  "room token lasts.", room=room)
    if "token admits you" in words:
        return tr("Your room token is for another room, role or name. Join with the room, "
                  "role and name written in your token.")
    if "no media server" in words:
        return tr("This server has no media server for classes, so the video stays peer "
                  "to peer. Ask the server's operator to set one up.")
    if "media server" in words:
        return tr("The hospital's media server does not answer now. The server keeps "
                  "trying to reach it: ask for class mode again once it is back.")
    return tr("The server did not let you into room {room}. Ask the case organiser to "
              "admit you, or check the room name.", room=room)


def _forbidden(words: str) -> str:
    if "class mode" in words:
        return tr("Only the surgeon and mentors choose class mode.")
    if "freeze" in words:
        return tr("Only the surgeon and mentors freeze the picture and return it to live.")
    if "privacy" in words:
        return tr("Only the surgeon and mentors pause the video for privacy.")
    if "share a picture" in words:
        return tr("You may not share a picture now: a trainee shares while a mentor allows "
                  "them to draw.")
    if "grant" in words:
        return tr("Only a mentor allows a trainee to draw.")
    if "record" in words or "chapter" in words:
        return tr("Only the surgeon and mentors record the case and mark chapters.")
    if "remove a surgeon" in words:
        return tr("Nobody removes the surgeon from the room; ask them to leave.")
    if "remove" in words and "mark" not in words:
        return tr("Only the surgeon and mentors remove someone from the room.")
    if "publish" in words or "announc" in words or "offer" in words:
        return tr("Your role does not send video here. Join as the surgeon to present, "
                  "or send nothing.")
    if "draw" in words or "mark" in words or "clear" in words or "undo" in words:
        return tr("You may not draw or change this mark now. A trainee draws while the "
                  "mentor allows it, and on their own marks only.")
    return tr("Your role may not do that in this room.")


def _bad_message(words: str) -> str:
    if "field 'name'" in words:
        return tr("Your name is too long or has characters the server does not take. Use "
                  "at most {limit} letters, then join again.", limit=MAX_NAME_CHARS)
    if "field 'room'" in words:
        return tr("The room name may have only letters A-Z, digits, '.', '_' and '-' (for "
                  "example chole-2026-11-25).")
    if "field 'text'" in words:
        return tr("The chat message is too long; send it in parts.")
    return _versions()


def _versions() -> str:
    return tr("The server did not understand this client; they may be different versions. "
              "Update the client, or ask the server's operator.")


def token_problem_text(code: str) -> str:
    """A room token the client or the server cannot use (:class:`TokenProblem` code)."""
    if code == TokenProblem.EXPIRED:
        return tr("Your room token has expired. Ask the case organiser for a new one.")
    if code == TokenProblem.MISSING:
        return tr("This server needs a room token. Paste the token the case organiser gave "
                  "you under Room token.")
    return tr("This is not a valid room token. Paste the whole token you were given, "
              "without spaces or line breaks.")


def route_reason_text(reason: str) -> str:
    """Why the video goes peer to peer (a ``media-route`` reason), translated."""
    words = reason.lower()
    if "turned off" in words:
        return tr("class mode was turned off")
    if "does not answer" in words or "went away" in words or "is down" in words:
        return tr("the hospital's media server does not answer now; the room moves to it "
                  "once it is back")
    if "cannot take" in words or "could not be used" in words or "refused" in words:
        return tr("the hospital's media server cannot take this room now")
    return reason


ICE_SYNTAX_HINT = "stun:HOST:PORT, turn:USER:PASSWORD@HOST:PORT"


def ice_problem_text(line: int, message: str) -> str:
    """Why line ``line`` of the ICE servers field cannot be used (the core's
    ConfigError ``message``), with the syntax that works."""
    words = message.partition(ICE_SERVER_SYNTAX)[0].lower()  # the problem, not the syntax
    if "user name and the password" in words or "user name and password" in words:
        return tr("Line {line} of the ICE servers (Advanced): give both the user name and "
                  "the password, as turn:USER:PASSWORD@HOST:PORT.", line=line)
    if "'%'" in words or "%-escape" in words:
        return tr("Line {line} of the ICE servers (Advanced): write ':' as %3A, '@' as %40 "
                  "and '%' as %25 in the user name and password.", line=line)
    if "no scheme" in words or "the scheme" in words or "is not supported" in words:
        return tr("Line {line} of the ICE servers (Advanced) must start with stun:, turn: or "
                  "turns: ({syntax}).", line=line, syntax=ICE_SYNTAX_HINT)
    if "'//'" in words:
        return tr("Line {line} of the ICE servers (Advanced): write the address without "
                  "'//' ({syntax}).", line=line, syntax=ICE_SYNTAX_HINT)
    if "transport" in words or "query" in words:
        return tr("Line {line} of the ICE servers (Advanced): only ?transport=udp or "
                  "?transport=tcp may follow a turn: address (turns: is TCP only, stun: takes "
                  "none).", line=line)
    if "has the port" in words:
        return tr("Line {line} of the ICE servers (Advanced): the port must be a number "
                  "from 1 to 65535.", line=line)
    if "host" in words or "address" in words:
        return tr("Line {line} of the ICE servers (Advanced): give the server's host name "
                  "or IPv4 address ({syntax}).", line=line, syntax=ICE_SYNTAX_HINT)
    return tr("Line {line} of the ICE servers (Advanced) cannot be used: {detail}",
              line=line, detail=message)
