"""The Janus API's requests and how replies are judged, from literal messages."""

from __future__ import annotations

import pytest

from surgery_teach.errors import MediaServerError, MediaServerRefusedError
from surgery_teach.janus.messages import (
    Credentials,
    answer_sdp,
    check_reply,
    core_request,
    jsep,
    plugin_message,
    reply_id,
)


def test_a_participant_sends_its_token_and_the_server_its_api_secret() -> None:
    assert core_request("create", "t1", Credentials(token="tok")) == {
        "janus": "create", "transaction": "t1", "token": "tok"}
    assert core_request("attach", "t2", Credentials(api_secret="s"), session_id=7,
                        plugin="janus.plugin.videoroom") == {
        "janus": "attach", "transaction": "t2", "apisecret": "s", "session_id": 7,
        "plugin": "janus.plugin.videoroom"}


def test_credentials_need_exactly_one_kind_and_never_show_it() -> None:
    with pytest.raises(ValueError):
        Credentials()
    with pytest.raises(ValueError):
        Credentials(token="a", api_secret="b")
    assert "tok-value" not in repr(Credentials(token="tok-value"))


def test_a_plugin_message_carries_body_and_sdp() -> None:
    message = plugin_message("t3", Credentials(token="tok"), session_id=1, handle_id=2,
                             body={"request": "publish"}, jsep=jsep("offer", "v=0"))
    assert message == {"janus": "message", "transaction": "t3", "token": "tok",
                       "session_id": 1, "handle_id": 2, "body": {"request": "publish"},
                       "jsep": {"type": "offer", "sdp": "v=0", "trickle": False}}
    with pytest.raises(ValueError):
        jsep("pranswer", "v=0")


def test_a_core_refusal_becomes_an_error_with_janus_code_and_the_fix() -> None:
    reply = {"janus": "error", "transaction": "t1",
             "error": {"code": 403, "reason": "Unauthorized request (wrong or missing "
                       "secret/token)"}}
    with pytest.raises(MediaServerRefusedError) as caught:
        check_reply("create", reply)
    assert caught.value.code == 403
    assert "Unauthorized request" in str(caught.value)
    assert "token was never added, was removed" in str(caught.value)


def test_a_plugin_refusal_inside_a_success_is_still_a_refusal() -> None:
    reply = {"janus": "success", "plugindata": {"plugin": "janus.plugin.videoroom", "data": {
        "videoroom": "event", "error_code": 428, "error": "No such feed (5)"}}}
    with pytest.raises(MediaServerRefusedError) as caught:
        check_reply("join", reply)
    assert (caught.value.code, caught.value.request) == (428, "join")
    assert "has not connected its media yet" in str(caught.value)


def test_a_refusal_without_details_still_reads_clearly() -> None:
    with pytest.raises(MediaServerRefusedError, match="no reason given") as caught:
        check_reply("attach", {"janus": "error", "error": "nonsense"})
    assert caught.value.code == 0


@pytest.mark.parametrize("reply", [None, [], {"no": "janus"}, {"janus": 5}])
def test_something_that_is_not_janus_is_named_as_such(reply: object) -> None:
    with pytest.raises(MediaServerError, match="not a Janus message"):
        check_reply("create", reply)


def test_a_success_passes_and_yields_its_id_and_sdp() -> None:
    reply = {"janus": "success", "transaction": "t", "data": {"id": 4242}}
    assert check_reply("create", reply) is reply
    assert reply_id("create", reply) == 4242
    with pytest.raises(MediaServerError, match="has no id"):
        reply_id("attach", {"janus": "success", "data": {"id": "4242"}})
    event = {"janus": "event", "jsep": {"type": "answer", "sdp": "v=0\r\n"}}
    assert answer_sdp("publish", event, "answer") == "v=0\r\n"
    with pytest.raises(MediaServerError, match="no SDP offer"):
        answer_sdp("join", event, "offer")
