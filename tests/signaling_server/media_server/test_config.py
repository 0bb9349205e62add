"""Janus's configuration from plain settings, and the files it is written to."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from signaling_server.media_server.config import (
    HTTP_CONFIG,
    JANUS_CONFIG,
    VIDEOROOM_CONFIG,
    WEBSOCKETS_CONFIG,
    JanusSettings,
    MediaServerSecrets,
    TurnRelay,
    render_configs,
    to_jcfg,
)
from signaling_server.media_server.config_dir import (
    ACCESS_FILE,
    MediaServerAccess,
    read_access,
    write_config_dir,
)
from surgery_teach.errors import ConfigError

SECRETS = MediaServerSecrets("api-secret-1", "admin-secret-2", "room-key-3")
AVAILABLE = {
    "plugins": ["libjanus_videoroom.so", "libjanus_streaming.so", "libjanus_sip.so"],
    "transports": ["libjanus_websockets.so", "libjanus_http.so", "libjanus_mqtt.so"],
    "loggers": ["libjanus_jsonlog.so"],
    "events": [],
}


def _render(**settings: object) -> dict[str, str]:
    return render_configs(JanusSettings(**settings), SECRETS,  # type: ignore[arg-type]
                          config_folder="/srv/janus", available=AVAILABLE)


def test_janus_demands_a_token_or_the_api_secret_and_has_its_own_admin_secret() -> None:
    janus = _render()[JANUS_CONFIG]
    assert "\ttoken_auth = true\n" in janus
    assert '\tapi_secret = "api-secret-1"\n' in janus
    assert '\tadmin_secret = "admin-secret-2"\n' in janus
    assert '\tconfigs_folder = "/srv/janus"\n' in janus


def test_only_the_videoroom_and_the_two_transports_load() -> None:
    janus = _render()[JANUS_CONFIG]
    assert '\tdisable = "libjanus_sip.so,libjanus_streaming.so"\n' in janus
    assert '\tdisable = "libjanus_mqtt.so"\n' in janus
    assert '\tdisable = "libjanus_jsonlog.so"\n' in janus
    assert "videoroom.so," not in janus and "websockets.so" not in janus


def test_the_admin_api_listens_on_loopback_only_and_the_public_api_has_no_admin() -> None:
    configs = _render(api_host="0.0.0.0", api_port=9000, admin_port=9001)
    http, ws = configs[HTTP_CONFIG], configs[WEBSOCKETS_CONFIG]
    assert "\thttp = false\n" in http and "\tadmin_http = true\n" in http
    assert '\tadmin_ip = "127.0.0.1"\n' in http and '\tadmin_acl = "127."\n' in http
    assert "\tadmin_port = 9001\n" in http
    assert '\tws_ip = "0.0.0.0"\n' in ws and "\tws_port = 9000\n" in ws
    assert "\tadmin_ws = false\n" in ws


def test_rooms_can_only_be_created_with_the_admin_key() -> None:
    videoroom = _render()[VIDEOROOM_CONFIG]
    assert '\tadmin_key = "room-key-3"\n' in videoroom
    assert "room-" not in videoroom.replace("room-key-3", "")  # no sample rooms


def test_veth_interfaces_stay_usable_for_ice_and_nat_settings_are_written() -> None:
    janus = _render(public_ip="203.0.113.7", stun=("10.77.0.10", 3478),
                    turn=TurnRelay("10.77.0.10", 3478, "udp", "123:janus", "pw"))[JANUS_CONFIG]
    ignore = next(line for line in janus.splitlines() if "ice_ignore_list" in line)
    assert "veth" not in ignore and "vmnet" in ignore
    for line in ('nat_1_1_mapping = "203.0.113.7"', "keep_private_host = true",
                 'stun_server = "10.77.0.10"', "stun_port = 3478", 'turn_user = "123:janus"',
                 'turn_pwd = "pw"', 'turn_type = "udp"'):
        assert f"\t{line}\n" in janus


def test_an_enforced_interface_list_is_written_when_given() -> None:
    janus = _render(ice_enforce=("eth0", "10.77.0.10"))[JANUS_CONFIG]
    assert '\tice_enforce_list = "eth0,10.77.0.10"\n' in janus


def test_clients_are_told_the_public_address_when_janus_listens_everywhere() -> None:
    assert JanusSettings().api_url == "ws://127.0.0.1:8188"
    assert JanusSettings(api_host="0.0.0.0", public_ip="203.0.113.7").api_url == \
        "ws://203.0.113.7:8188"
    assert JanusSettings().admin_url == "http://127.0.0.1:7088/admin"


@pytest.mark.parametrize(("settings", "named"), [
    ({"admin_host": "0.0.0.0"}, "loopback"),
    ({"api_host": "janus.example"}, "not an IP address"),
    ({"public_ip": "somewhere"}, "not an IP address"),
    ({"api_port": 0}, "1-65535"),
    ({"api_port": 7088}, "must differ"),
    ({"rtp_ports": (20000, 20010)}, "too small"),
    ({"debug_level": 9}, "0-7"),
    ({"session_timeout": 1}, "at least 10"),
    ({"ice_ignore": ("a,b",)}, "without commas"),
])
def test_bad_settings_are_refused_naming_the_problem(settings: dict[str, object],
                                                     named: str) -> None:
    with pytest.raises(ConfigError, match=named):
        JanusSettings(**settings)  # type: ignore[arg-type]


def test_text_that_would_break_the_file_is_refused() -> None:
    with pytest.raises(ConfigError, match="printable ASCII"):
        to_jcfg({"general": {"server_name": "line\nbreak"}})
    assert to_jcfg({"g": {"quoted": 'a"b\\c'}}).splitlines()[2] == '\tquoted = "a\\"b\\\\c"'


def test_fresh_secrets_are_long_random_and_never_shown() -> None:
    first, second = MediaServerSecrets.generate(), MediaServerSecrets.generate()
    values = {first.api_secret, first.admin_secret, first.room_admin_key,
              second.api_secret, second.admin_secret, second.room_admin_key}
    assert len(values) == 6 and all(len(v) == 64 for v in values)
    assert first.api_secret not in repr(first)


def _library(tmp_path: Path, *, videoroom: bool = True) -> str:
    for kind, names in AVAILABLE.items():
        folder = tmp_path / "lib" / kind
        folder.mkdir(parents=True)
        for name in names:
            if videoroom or "videoroom" not in name:
                (folder / name).touch()
    return str(tmp_path / "lib")


def test_the_folder_and_every_file_are_owner_only_and_the_access_file_reads_back(
        tmp_path: Path) -> None:
    settings = JanusSettings(library_folder=_library(tmp_path))
    folder = tmp_path / "janus"
    access = write_config_dir(folder, settings, SECRETS)
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    names = sorted(p.name for p in folder.iterdir())
    assert names == sorted([JANUS_CONFIG, VIDEOROOM_CONFIG, WEBSOCKETS_CONFIG, HTTP_CONFIG,
                            ACCESS_FILE])
    assert {stat.S_IMODE((folder / n).stat().st_mode) for n in names} == {0o600}
    assert read_access(folder) == access
    assert access.api_url == "ws://127.0.0.1:8188" and access.secrets == SECRETS
    assert "libjanus_streaming.so" in (folder / JANUS_CONFIG).read_text()


def test_rewriting_replaces_the_secrets_and_keeps_files_private(tmp_path: Path) -> None:
    settings = JanusSettings(library_folder=_library(tmp_path))
    folder = tmp_path / "janus"
    write_config_dir(folder, settings, SECRETS)
    (folder / ACCESS_FILE).chmod(0o644)
    fresh = MediaServerSecrets.generate()
    write_config_dir(folder, settings, fresh)
    assert read_access(folder).secrets == fresh
    assert stat.S_IMODE((folder / ACCESS_FILE).stat().st_mode) == 0o600
    assert "api-secret-1" not in (folder / JANUS_CONFIG).read_text()


def test_without_janus_installed_the_error_says_how_to_install_it(tmp_path: Path) -> None:
    settings = JanusSettings(library_folder=_library(tmp_path, videoroom=False))
    with pytest.raises(ConfigError, match="apt-get install janus"):
        write_config_dir(tmp_path / "janus", settings, SECRETS)


@pytest.mark.parametrize(("text", "named"), [
    ("{", "not JSON"),
    ('{"version": 2}', "version-1"),
    ('{"version": 1, "api_url": "ws://x", "admin_url": ""}', "lacks admin_url, api_secret"),
])
def test_a_damaged_access_file_is_refused_with_the_fix(text: str, named: str) -> None:
    with pytest.raises(ConfigError, match=named) as caught:
        MediaServerAccess.from_json(text)
    assert "media-server" in str(caught.value)


def test_a_missing_access_file_says_how_to_make_it(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="media-server --config-dir"):
        read_access(tmp_path)


def test_the_access_file_holds_what_the_signaling_server_needs() -> None:
    data = json.loads(MediaServerAccess("ws://a:1", "http://127.0.0.1:2/admin",
                                        SECRETS).to_json())
    assert data == {"version": 1, "api_url": "ws://a:1", "admin_url": "http://127.0.0.1:2/admin",
                    "api_secret": "api-secret-1", "admin_secret": "admin-secret-2",
                    "room_admin_key": "room-key-3"}
    assert "secret" not in repr(MediaServerAccess("ws://a:1", "x", SECRETS)).replace(
        "secrets=", "")
