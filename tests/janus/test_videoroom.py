"""VideoRoom request bodies and events, from literals."""

from __future__ import annotations

import pytest

from surgery_teach.errors import ConfigError, MediaServerError
from surgery_teach.janus import videoroom
from surgery_teach.janus.videoroom import RoomSpec, StreamChoice, StreamDescription


def test_a_class_room_is_h264_capped_private_and_closed_to_unknown_tokens() -> None:
    spec = RoomSpec(room_id=77, secret="s", bitrate=2_000_000, publishers=2,
                    allowed_tokens=("t1",))
    body = videoroom.create_room(spec, "admin-key")
    assert body["request"] == "create" and body["admin_key"] == "admin-key"
    assert (body["room"], body["secret"], body["publishers"]) == (77, "s", 2)
    assert (body["videocodec"], body["bitrate"], body["bitrate_cap"]) == ("h264", 2_000_000,
                                                                         True)
    assert body["require_pvtid"] is True and body["permanent"] is False
    assert body["allowed"] == ["t1"] and body["is_private"] is True


@pytest.mark.parametrize(("fields", "named"), [
    ({"room_id": 0}, "room id"), ({"room_id": 2**53}, "room id"),
    ({"room_id": 1, "publishers": 0}, "publishers"),
    ({"room_id": 1, "bitrate": 1000}, "bitrate cap")])
def test_impossible_rooms_are_refused(fields: dict[str, int], named: str) -> None:
    with pytest.raises(ConfigError, match=named):
        RoomSpec(**fields)  # type: ignore[arg-type]


def test_the_allowed_list_changes_by_token() -> None:
    assert videoroom.change_allowed(77, "s", "add", ["t2"]) == {
        "request": "allowed", "room": 77, "secret": "s", "action": "add", "allowed": ["t2"]}
    with pytest.raises(ValueError):
        videoroom.change_allowed(77, "s", "enable", [])


def test_publishing_names_each_layer() -> None:
    body = videoroom.publish([StreamDescription("0", "1280x720"),
                              StreamDescription("1", "640x360")], bitrate=2_500_000)
    assert body["descriptions"] == [{"mid": "0", "description": "1280x720"},
                                    {"mid": "1", "description": "640x360"}]
    assert body["bitrate"] == 2_500_000


def test_a_viewer_subscribes_with_its_private_id_and_token() -> None:
    body = videoroom.join_as_subscriber(77, 999, "tok", [StreamChoice(5, "0")])
    assert body == {"request": "join", "ptype": "subscriber", "room": 77, "private_id": 999,
                    "token": "tok", "use_msid": False, "streams": [{"feed": 5, "mid": "0"}]}
    with pytest.raises(ValueError):
        videoroom.join_as_subscriber(77, 999, "tok", [])


def test_switching_layers_names_the_viewer_m_line_to_reuse() -> None:
    assert videoroom.switch([StreamChoice(5, "1", sub_mid="0")]) == {
        "request": "switch", "streams": [{"feed": 5, "mid": "1", "sub_mid": "0"}]}
    with pytest.raises(ValueError):
        videoroom.switch([StreamChoice(5, "1")])
    assert videoroom.pause_streams({"0": False}) == {
        "request": "configure", "streams": [{"mid": "0", "send": False}]}


def test_a_joined_event_gives_ids_and_the_publishers_with_their_layers() -> None:
    joined = videoroom.read_joined({
        "videoroom": "joined", "room": 77, "id": 11, "private_id": 12, "publishers": [
            {"id": 5, "display": "surgeon", "streams": [
                {"type": "video", "mid": "0", "codec": "h264", "description": "1280x720"},
                {"type": "video", "mid": "1", "codec": "h264", "description": "640x360"}]},
            {"id": "bad"}, "junk"]})
    assert (joined.room_id, joined.feed_id, joined.private_id) == (77, 11, 12)
    (surgeon,) = joined.publishers
    assert surgeon.feed_id == 5 and [s.description for s in surgeon.streams] == [
        "1280x720", "640x360"]
    with pytest.raises(MediaServerError, match="lacks"):
        videoroom.read_joined({"videoroom": "joined", "room": 77})
