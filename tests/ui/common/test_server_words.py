"""Every code the server and the core refuse with is said in the user's language, with no
English words of the server's message left in it; only an unknown code keeps them.

The server's words are made by the real rules (a full room, a role refused, a name too
long, a token that is not one, an ICE line that cannot be used), so a change of wording
there that these texts no longer recognise fails here."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from signaling_server.classes import DOWN_REASON, Classes
from signaling_server.shares import ShareStore
from surgery_teach.errors import ConfigError, ProtocolError
from surgery_teach.media.layer_choice import Reason
from surgery_teach.protocol.ice import parse_ice_server
from surgery_teach.protocol.messages import (
    ClassMode,
    ErrorReply,
    Join,
    ParticipantInfo,
    Publishes,
    Role,
    ShareHead,
)
from surgery_teach.protocol.privacy import privacy_refusal
from surgery_teach.protocol.recording import record_refusal
from surgery_teach.protocol.roles import grant_refusal, publishing_refusal, removal_refusal
from surgery_teach.protocol.room import Rooms, Seat
from surgery_teach.protocol.tokens import TokenProblem, read_claims_unverified
from surgery_teach.wire.fields import ErrorCode
from tests.protocol.test_telestration import Theatre
from ui.common.server_words import (
    ice_problem_text,
    refusal_text,
    route_reason_text,
    token_problem_text,
)
from ui.i18n import set_language
from ui.session.viewers import reason_text

LANGUAGES = ("ru", "zh_CN")
SCRIPT = {"ru": r"[А-Яа-яЁё]", "zh_CN": r"[\u4e00-\u9fff]"}


@pytest.fixture(params=LANGUAGES)
def language(request: pytest.FixtureRequest) -> Iterator[str]:
    set_language(request.param)
    try:
        yield request.param
    finally:
        set_language("en")


def english_words(text: str) -> list[str]:
    """Runs of Latin letters a sentence in Russian or Chinese should not have (names
    of schemes and the example room are allowed)."""
    allowed = {"stun", "turn", "turns", "transport", "udp", "tcp", "chole", "HOST", "PORT",
               "USER", "PASSWORD", "IPv", "TCP", "ICE", "case", "A", "Z"}
    return [w for w in re.findall(r"[A-Za-z]{3,}", text) if w not in allowed]


def said(text: str, language: str) -> None:
    assert re.search(SCRIPT[language], text), text
    assert english_words(text) == [], text


def _join_refusals() -> list[ErrorReply]:
    """Refusals the real room rules send to a join."""
    full: Rooms[str] = Rooms(max_room_size=1)
    full.handle("a", Join("case", "Dr Wang", Role.SURGEON))
    busy: Rooms[str] = Rooms(max_rooms=1)
    busy.handle("a", Join("one", "Dr Wang", Role.SURGEON))
    replies = [m for rooms, room in ((full, "case"), (busy, "two"))
               for _, m in rooms.handle("b", Join(room, "Osh", Role.TRAINEE))]
    return [r for r in replies if isinstance(r, ErrorReply)]


def _session_refusals() -> list[ErrorReply]:
    """What the real rules refuse during a session, one per situation."""
    trainee = ParticipantInfo("p-1", "Osh", Role.TRAINEE)
    texts = [
        (ErrorCode.FORBIDDEN, grant_refusal(Role.SURGEON)),
        (ErrorCode.FORBIDDEN, removal_refusal(Role.TRAINEE)),
        (ErrorCode.FORBIDDEN, removal_refusal(Role.MENTOR, Role.SURGEON)),
        (ErrorCode.FORBIDDEN, record_refusal(Role.TRAINEE)),
        (ErrorCode.FORBIDDEN, privacy_refusal(Role.STUDENT)),
        (ErrorCode.FORBIDDEN, publishing_refusal(Role.STUDENT, Publishes(video=1))),
    ]
    replies = [ErrorReply(code, text) for code, text in texts if text]
    theatre = Theatre()
    from surgery_teach.annotations import Add, Freeze
    replies += [m for _, m in theatre.send("trainee", Add(theatre.arrow("trainee", "t:1")))]
    replies += [m for _, m in theatre.send(
        "trainee", Freeze("Laparoscope", 1.0, author=theatre.ids["trainee"]))]
    classes = Classes(None)
    replies.append(classes.request(Seat("case", trainee), ClassMode(on=True)))  # type: ignore[arg-type]
    return [r for r in replies if isinstance(r, ErrorReply)] + _share_refusals(trainee)


def _share_refusals(trainee: ParticipantInfo) -> list[ErrorReply]:
    """The server's shares: a trainee without the right, a room at its limit, a share
    gone."""
    store = ShareStore(room_bytes=1024)
    head = ShareHead("a" * 32, 2048, "0" * 64, 1024, {})
    attempts = [lambda: store.offer("case", trainee, head),
                lambda: store.offer("case", ParticipantInfo("p-2", "Dr Li", Role.MENTOR), head),
                lambda: store.wanted("case", head.share_id, 0)]
    replies = []
    for attempt in attempts:
        with pytest.raises(ProtocolError) as refused:
            attempt()
        replies.append(ErrorReply(refused.value.code, refused.value.message))
    return replies


def _bad_name() -> ErrorReply:
    try:
        Join("case", "x" * 119, Role.TRAINEE)
    except ProtocolError as exc:
        return ErrorReply(exc.code, exc.message)
    raise AssertionError("a name of 119 characters was taken")


def test_join_refusals_are_said_in_the_users_language(language: str) -> None:
    replies = [*_join_refusals(), _bad_name()]
    assert {r.code for r in replies} == {ErrorCode.ROOM_FULL, ErrorCode.SERVER_FULL,
                                         ErrorCode.BAD_MESSAGE}
    for reply in replies:
        said(refusal_text(reply.code, reply.message, room="case"), language)


def test_each_refusal_in_a_session_has_its_own_sentence(language: str) -> None:
    replies = _session_refusals()
    assert len(replies) == 12, replies
    texts = [refusal_text(r.code, r.message) for r in replies]
    for text in texts:
        said(text, language)
    assert len(set(texts)) == len(texts), texts  # freezing is not drawing, nor class mode


@pytest.mark.parametrize("code", [c for c in ErrorCode])
def test_every_error_code_is_translated(language: str, code: ErrorCode) -> None:
    said(refusal_text(code, "some English words from a server", room="case"), language)


def test_class_mode_refusals_say_what_to_do(language: str) -> None:
    mentor = ParticipantInfo("p-2", "Dr Li", Role.MENTOR)
    none = Classes(None).request(Seat("case", mentor), ClassMode(on=True))
    assert none is not None and none.code == ErrorCode.NOT_ALLOWED
    down = "the media server does not answer now (connection refused); this server keeps " \
           "trying to reach it: ask again once it is back"
    texts = {refusal_text(none.code, none.message),
             refusal_text(ErrorCode.NOT_ALLOWED, down)}
    assert len(texts) == 2
    for text in texts:
        said(text, language)


def test_an_unknown_code_keeps_the_servers_words_behind_a_translated_lead_in(
        language: str) -> None:
    text = refusal_text("brand-new-code", "the server is being upgraded")
    assert text.endswith("the server is being upgraded")
    assert re.search(SCRIPT[language], text)


def test_token_problems_are_said_by_code(language: str) -> None:
    codes = []
    for pasted in ("", "not-a-token", "x" * 5000):
        with pytest.raises(ProtocolError) as refused:
            read_claims_unverified(pasted)
        codes.append(refused.value.code)
    assert set(codes) == {TokenProblem.MISSING, TokenProblem.INVALID}
    texts = {token_problem_text(code) for code in [*codes, TokenProblem.EXPIRED]}
    assert len(texts) == 3
    for text in texts:
        said(text, language)


ICE_LINES = [  # one line per kind of problem, the scheme twice
    "http://turn.example-hospital.cn", "STUN:turn.example-hospital.cn",
    "turn:teach@turn.example-hospital.cn", "turn://turn.example-hospital.cn",
    "stun:turn.example-hospital.cn?transport=tcp", "turn:turn.example-hospital.cn:99999",
    "turn:te%ZZach:pw@turn.example-hospital.cn", "stun:"]


def test_every_ice_line_problem_is_said_without_the_core_english(language: str) -> None:
    texts = []
    for line in ICE_LINES:
        with pytest.raises(ConfigError) as refused:
            parse_ice_server(line)
        text = ice_problem_text(2, str(refused.value))
        said(text, language)
        assert "2" in text
        texts.append(text)
    assert texts[0] == texts[1] and len(set(texts)) == len(ICE_LINES) - 1, texts


def test_media_route_reasons_are_translated(language: str) -> None:
    reasons = [DOWN_REASON, "class mode was turned off",
               "the media server cannot take this room now; it stays peer to peer"]
    texts = {route_reason_text(r) for r in reasons}
    assert len(texts) == 3
    for text in texts:
        said(text, language)
    assert route_reason_text("a reason from a newer server") == "a reason from a newer server"


def test_layer_reasons_are_translated(language: str) -> None:
    texts = {reason_text(r) for r in Reason}
    assert len(texts) == len(Reason)
    for text in texts:
        said(text, language)
