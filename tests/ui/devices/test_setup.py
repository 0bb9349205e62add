"""The device setup dialog: sources as specs, a live preview that never leaks, sound checks."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from aiortc.mediastreams import MediaStreamTrack
from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import QApplication, QDialogButtonBox, QFileDialog, QLabel, QPushButton

from surgery_teach.audio import (
    PORTAUDIO_MISSING,
    AudioDeviceScan,
    AudioPlayer,
    MicrophoneTrack,
    scan_audio_devices,
    tone_power,
)
from surgery_teach.capture import DeviceInfo, SourceKind, parse_source_spec
from surgery_teach.errors import ConfigError
from surgery_teach.settings import Settings
from tests.audio.fakes import FAKE_DEVICES, FakeMicrophone, FakeSpeakerPlayer
from tests.timing import seconds
from tests.ui.conftest import until
from ui.devices import setup as device_setup
from ui.devices.setup import DeviceSetup, compose_spec
from ui.devices.sound import TONE_SECONDS, meter_percent

SYNTHETIC = "Laparoscope=synthetic:640x360@30"
ROOM = "Room camera=synthetic:640x360@15"


@pytest.fixture(autouse=True)
def dialogs_closing_do_not_quit(qapp: QApplication) -> Iterator[None]:
    """In the app a window stays open behind the dialog; here closing it must not quit Qt
    (which would stop the qasync loop a test is still running)."""
    qapp.setQuitOnLastWindowClosed(False)
    yield
    qapp.setQuitOnLastWindowClosed(True)


@pytest.fixture(autouse=True)
def no_device_threads_outlive_a_test() -> Iterator[None]:
    """Every capture thread and (fake) sound card a dialog opened is stopped by the end."""
    yield
    left = [t.name for t in threading.enumerate()
            if t.name.startswith(("capture ", "fake sound card"))]
    assert left == [], f"still running: {left}"


def make_dialog(qtbot: Any, settings: Settings, cls: type[DeviceSetup] = DeviceSetup,
                *, show: bool = False) -> DeviceSetup:
    dialog = cls(settings)
    qtbot.addWidget(dialog)
    if show:
        dialog.resize(1180, 740)
        dialog.show()
    return dialog


def press(dialog: DeviceSetup, which: QDialogButtonBox.StandardButton) -> None:
    button = dialog.buttons.button(which)
    assert button is not None
    button.click()


def choose_kind(dialog: DeviceSetup, kind: SourceKind) -> None:
    for index in range(dialog.kind.count()):
        data = dialog.kind.itemData(index)
        if data is not None and data[0] is kind:
            dialog.kind.setCurrentIndex(index)
            return
    raise AssertionError(f"no {kind} in the kind list")


def choose_size(dialog: DeviceSetup, text: str) -> None:
    index = dialog.resolution.findText(text)
    assert index >= 0, text
    dialog.resolution.setCurrentIndex(index)


def first_line(error: ConfigError) -> str:
    return str(error).split("\n", 1)[0]


# -- specs, without Qt ------------------------------------------------------------------

def test_specs_are_composed_in_the_form_parse_source_spec_accepts() -> None:
    assert compose_spec(SourceKind.SYNTHETIC, label="腹腔镜", size=(1280, 720)) == (
        "腹腔镜=synthetic:1280x720@30")
    assert compose_spec(SourceKind.SYNTHETIC) == "synthetic"
    assert compose_spec(SourceKind.CAMERA, "/dev/video2", "Лапароскоп", (1920, 1080)) == (
        "Лапароскоп=camera:/dev/video2:1920x1080")
    assert compose_spec(SourceKind.CAMERA, "/dev/video0") == "camera:/dev/video0"
    assert compose_spec(SourceKind.FILE, "/videos/case 12.mp4", "Case") == (
        "Case=file:/videos/case 12.mp4")
    url = "rtsp://192.168.1.20:554/stream?channel=1"
    assert compose_spec(SourceKind.RTSP, f" {url} ", "Room camera") == f"Room camera={url}"
    assert parse_source_spec(f"Room camera={url}").target == url


def test_bad_labels_and_urls_are_refused_with_the_parsers_reason() -> None:
    with pytest.raises(ConfigError, match="longer than 64"):
        compose_spec(SourceKind.SYNTHETIC, label="x" * 65)
    with pytest.raises(ConfigError, match="control characters"):
        compose_spec(SourceKind.SYNTHETIC, label="Lap\x07scope")
    with pytest.raises(ConfigError, match="cannot contain '='"):
        compose_spec(SourceKind.SYNTHETIC, label="a=b")
    with pytest.raises(ConfigError, match="no host"):
        compose_spec(SourceKind.RTSP, "rtsp://:554/stream")
    with pytest.raises(ConfigError, match="file path is empty"):
        compose_spec(SourceKind.FILE, "  ")


def test_the_meter_maps_minus_60_to_0_dbfs_onto_0_to_100() -> None:
    assert [meter_percent(x) for x in (-100.0, -60.0, -30.0, -3.0, 0.0, 6.0)] == [
        0, 0, 50, 95, 100, 100]


# -- the list of sources ----------------------------------------------------------------

def test_adding_a_labelled_synthetic_source_stores_its_spec_on_ok(qtbot: Any) -> None:
    settings = Settings(sources=[])
    dialog = make_dialog(qtbot, settings)
    choose_kind(dialog, SourceKind.SYNTHETIC)
    dialog.label.setText("腹腔镜")
    choose_size(dialog, "1280x720")
    qtbot.mouseClick(dialog.add_button, Qt.MouseButton.LeftButton)
    assert dialog.error.text() == ""
    assert dialog.sources.currentItem().text() == "腹腔镜  —  synthetic:1280x720@30"
    assert settings.sources == []  # nothing is written before OK
    with qtbot.waitSignal(dialog.accepted, timeout=int(seconds(2) * 1000)):
        press(dialog, QDialogButtonBox.StandardButton.Ok)
    assert settings.sources == ["腹腔镜=synthetic:1280x720@30"]


def test_existing_sources_round_trip_and_cancel_keeps_them(qtbot: Any) -> None:
    stored = [SYNTHETIC, "Room camera=camera:/dev/video99:1280x720",
              "Hall=rtsp://nurse:secret@10.0.0.5:554/live", "file:/videos/case12.mp4"]
    settings = Settings(sources=list(stored))
    dialog = make_dialog(qtbot, settings)
    assert dialog.source_specs() == stored
    rows = [dialog.sources.item(i).text() for i in range(dialog.sources.count())]
    assert rows[2] == "Hall  —  rtsp://***@10.0.0.5:554/live"  # no password on screen
    assert rows[3] == "case12.mp4  —  file:/videos/case12.mp4"
    dialog.sources.setCurrentRow(0)
    dialog.remove_selected()
    press(dialog, QDialogButtonBox.StandardButton.Cancel)
    assert settings.sources == stored

    again = make_dialog(qtbot, settings)
    press(again, QDialogButtonBox.StandardButton.Ok)
    assert settings.sources == stored


def test_remove_and_move_reorder_the_sources(qtbot: Any) -> None:
    a, b, c = "A=synthetic", "B=camera:0", "C=rtsp://cam/1"
    settings = Settings(sources=[a, b, c])
    dialog = make_dialog(qtbot, settings)
    dialog.sources.setCurrentRow(0)
    assert not dialog.up_button.isEnabled() and dialog.down_button.isEnabled()
    qtbot.mouseClick(dialog.down_button, Qt.MouseButton.LeftButton)
    assert dialog.source_specs() == [b, a, c]
    assert dialog.sources.currentRow() == 1  # the moved source stays selected
    dialog.move_selected(1)
    assert dialog.source_specs() == [b, c, a]
    assert dialog.up_button.isEnabled() and not dialog.down_button.isEnabled()
    dialog.move_selected(1)  # already last
    assert dialog.source_specs() == [b, c, a]
    qtbot.mouseClick(dialog.up_button, Qt.MouseButton.LeftButton)
    assert dialog.source_specs() == [b, a, c]
    qtbot.mouseClick(dialog.remove_button, Qt.MouseButton.LeftButton)
    assert dialog.source_specs() == [b, c]
    press(dialog, QDialogButtonBox.StandardButton.Ok)
    assert settings.sources == [b, c]


def test_a_malformed_rtsp_url_or_bad_label_shows_the_config_error(qtbot: Any) -> None:
    dialog = make_dialog(qtbot, Settings(sources=[]))
    choose_kind(dialog, SourceKind.RTSP)
    assert dialog.location.isEnabled() and not dialog.resolution.isEnabled()
    for url in ("rtsp://:554/stream", "rtsp://camera:99999/live", "http://camera/live"):
        dialog.location.setText(url)
        dialog.label.setText("Hall")
        assert not dialog.add_source()
        with pytest.raises(ConfigError) as caught:
            parse_source_spec(f"Hall={url}")
        assert dialog.error.text() == first_line(caught.value)
        assert dialog.error.objectName() == "error"
        assert "Traceback" not in dialog.error.toolTip()
    dialog.location.setText("rtsp://camera/live")
    dialog.label.setText("Lap\tscope")
    assert not dialog.add_source()
    assert "control characters" in dialog.error.text()
    assert dialog.source_specs() == []
    dialog.label.setText("Hall")
    assert dialog.add_source()
    assert dialog.error.text() == ""
    assert dialog.source_specs() == ["Hall=rtsp://camera/live"]


def test_a_broken_stored_source_blocks_ok_until_it_is_removed(qtbot: Any) -> None:
    settings = Settings(sources=[SYNTHETIC, "Scope=camera:"])
    dialog = make_dialog(qtbot, settings)
    assert dialog.sources.item(1).text().endswith("(invalid)")
    press(dialog, QDialogButtonBox.StandardButton.Ok)
    assert "needs an index or a device path" in dialog.error.text()
    assert dialog.sources.currentRow() == 1
    assert settings.sources == [SYNTHETIC, "Scope=camera:"] and dialog.result() == 0
    dialog.remove_selected()
    with qtbot.waitSignal(dialog.accepted, timeout=int(seconds(2) * 1000)):
        press(dialog, QDialogButtonBox.StandardButton.Ok)
    assert settings.sources == [SYNTHETIC]


def test_cameras_found_are_offered_by_name_and_path(
    qtbot: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    found = [DeviceInfo("/dev/video0", "HD Pro Webcam C920", 0),
             DeviceInfo("/dev/video2", "/dev/video2", 2)]
    monkeypatch.setattr(device_setup, "list_devices", lambda: found)
    dialog = make_dialog(qtbot, Settings(sources=[]))
    assert [dialog.kind.itemText(i) for i in range(2)] == [
        "HD Pro Webcam C920 (/dev/video0)", "/dev/video2"]
    assert dialog.kind.currentIndex() == 0
    assert dialog.resolution.isEnabled() and not dialog.location.isEnabled()
    dialog.label.setText("Room camera")
    choose_size(dialog, "1920x1080")
    assert dialog.add_source()
    assert dialog.source_specs() == ["Room camera=camera:/dev/video0:1920x1080"]


def test_without_cameras_the_list_says_so_and_starts_on_the_synthetic_scene(qtbot: Any,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(device_setup, "list_devices", lambda: [])
    dialog = make_dialog(qtbot, Settings(sources=[]))
    assert dialog.kind.itemText(0) == "No camera found"
    assert dialog.kind.currentData() == (SourceKind.SYNTHETIC, "")


def test_a_video_file_is_chosen_with_a_file_dialog(
    qtbot: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    video = tmp_path / "胆囊切除 case 12.mp4"
    asked: list[str] = []

    def choose(parent: Any, title: str, folder: str, filters: str) -> tuple[str, str]:
        asked.append(filters)
        return str(video), filters

    monkeypatch.setattr(QFileDialog, "getOpenFileName", choose)
    dialog = make_dialog(qtbot, Settings(sources=[]))
    choose_kind(dialog, SourceKind.FILE)
    assert dialog.browse_button.isEnabled() and not dialog.resolution.isEnabled()
    qtbot.mouseClick(dialog.browse_button, Qt.MouseButton.LeftButton)
    assert asked and "*.mp4" in asked[0]
    dialog.label.setText("Case 12")
    assert dialog.add_source()
    assert dialog.source_specs() == [f"Case 12=file:{video}"]


def test_enter_in_the_label_field_adds_the_source_rather_than_pressing_ok(qtbot: Any) -> None:
    settings = Settings(sources=[])
    dialog = make_dialog(qtbot, settings)
    choose_kind(dialog, SourceKind.SYNTHETIC)
    dialog.label.setText("Лапароскоп")  # QTest types Latin-1 only
    qtbot.keyClick(dialog.label, Qt.Key.Key_Return)
    assert dialog.source_specs() == ["Лапароскоп=synthetic"]
    assert dialog.result() == 0 and settings.sources == []


# -- the live preview -------------------------------------------------------------------

def test_the_preview_paints_frames_and_stops_each_source_it_leaves(qtbot: Any, run: Any) -> None:
    async def scenario() -> None:
        dialog = make_dialog(qtbot, Settings(sources=[SYNTHETIC, ROOM]), show=True)
        await until(lambda: dialog.view.frames_painted >= 5, seconds(10), "preview frames")
        first = dialog.preview_source
        assert first is not None and first.running
        assert dialog.view.label == "Laparoscope"

        dialog.sources.setCurrentRow(1)
        assert not first.running and first.slot.closed
        second = dialog.preview_source
        assert second is not None and second is not first
        painted = dialog.view.frames_painted
        await until(lambda: dialog.view.frames_painted >= painted + 3, seconds(10),
                    "frames of the second source")
        assert dialog.view.slot is second.slot and dialog.view.label == "Room camera"

        dialog.move_selected(-1)  # the same source, moved: the preview carries on
        assert dialog.preview_source is second and second.running

        dialog.close()
        assert not second.running and second.slot.closed
        assert dialog.preview_source is None and dialog.view.slot is None

    run(scenario())


def test_a_source_still_opening_when_the_selection_moves_on_is_stopped(
    qtbot: Any, run: Any
) -> None:
    async def scenario() -> None:
        dialog = make_dialog(qtbot, Settings(sources=[SYNTHETIC, ROOM]), show=True)
        opening = dialog.preview_source
        starting = dialog.preview_starting
        assert opening is not None and starting is not None
        dialog.sources.setCurrentRow(1)  # before the first source's start() has returned
        await starting
        assert not opening.running and opening.slot.closed
        dialog.reject()
        assert dialog.preview_starting is not None
        await dialog.preview_starting

    run(scenario())


def test_a_missing_camera_shows_the_devices_found_instead_of_a_preview(
    qtbot: Any, run: Any
) -> None:
    async def scenario() -> None:
        dialog = make_dialog(qtbot, Settings(sources=["Scope=camera:/dev/video99"]),
                             show=True)
        assert dialog.preview_starting is not None
        await dialog.preview_starting
        text = dialog.error.text()
        assert "cannot open video device '/dev/video99'" in text
        assert "Devices found:" in text and "Traceback" not in text
        assert dialog.preview_source is None and dialog.view.slot is None

        dialog.sources.setCurrentRow(-1)
        assert dialog.error.text() == ""

    run(scenario())


# -- sound ------------------------------------------------------------------------------

def test_without_audio_devices_the_sound_section_says_why_and_ok_still_works(
    qtbot: Any, run: Any
) -> None:
    scan = scan_audio_devices()
    if scan.devices:
        pytest.skip("this machine has audio devices")

    async def scenario() -> None:
        settings = Settings(sources=[SYNTHETIC], microphone="Jabra Evolve2", speaker="")
        dialog = make_dialog(qtbot, settings, show=True)
        assert dialog.audio_reason == scan.problem
        assert not dialog.audio_status.isHidden()
        assert scan.problem in dialog.audio_status.text()
        for control in (dialog.microphone, dialog.speaker, dialog.tone_button, dialog.meter):
            assert not control.isEnabled()
        assert dialog.microphone_track is None
        with qtbot.waitSignal(dialog.accepted, timeout=int(seconds(2) * 1000)):
            press(dialog, QDialogButtonBox.StandardButton.Ok)
        # A headset that is unplugged today stays chosen for tomorrow.
        assert settings.microphone == "Jabra Evolve2" and settings.speaker == ""

    run(scenario())


class NoPortAudio(DeviceSetup):
    def _scan_audio(self) -> AudioDeviceScan:
        return AudioDeviceScan((), PORTAUDIO_MISSING)


def test_missing_portaudio_is_named_in_plain_words(qtbot: Any) -> None:
    dialog = make_dialog(qtbot, Settings(sources=[]), NoPortAudio)
    assert dialog.audio_reason == "PortAudio library not found: install libportaudio2"
    assert dialog.audio_reason in dialog.audio_status.text()
    assert not dialog.microphone.isEnabled() and not dialog.tone_button.isEnabled()


def loud(n: int) -> np.ndarray:
    return np.round(0.5 * 32767 * np.sin(np.arange(n) * 2 * np.pi * 1000 / 48000)).astype(
        np.int16)


class FakeSoundCard(DeviceSetup):
    """The dialog on a machine with :data:`FAKE_DEVICES`, recording what it opened."""

    def __init__(self, settings: Settings) -> None:
        self.opened_microphones: list[FakeMicrophone] = []
        self.players: list[FakeSpeakerPlayer] = []
        super().__init__(settings)

    def _scan_audio(self) -> AudioDeviceScan:
        return AudioDeviceScan(FAKE_DEVICES)

    def _open_microphone(self, device: str | None) -> MicrophoneTrack:
        microphone = FakeMicrophone(device)
        microphone.fake.signal = loud
        microphone.fake.run_clock()
        self.opened_microphones.append(microphone)
        return microphone

    def _open_player(self, track: MediaStreamTrack, device: str | None) -> AudioPlayer:
        player = FakeSpeakerPlayer(track, device, required=False, clocked=True)
        self.players.append(player)
        return player


def test_devices_are_listed_by_name_and_the_choice_is_saved_on_ok(qtbot: Any, run: Any) -> None:
    async def scenario() -> None:
        settings = Settings(sources=[], microphone="USB Audio Microphone")
        dialog = make_dialog(qtbot, settings, FakeSoundCard, show=True)
        assert [dialog.microphone.itemText(i) for i in range(dialog.microphone.count())] == [
            "System default", "Jabra Evolve2 headset", "USB Audio Microphone"]
        assert [dialog.speaker.itemText(i) for i in range(dialog.speaker.count())] == [
            "System default", "Jabra Evolve2 headset", "HDMI 0"]
        assert dialog.microphone.currentText() == "USB Audio Microphone"
        assert dialog.speaker.currentData() == ""
        assert dialog.audio_status.isHidden() and dialog.tone_button.isEnabled()
        dialog.speaker.setCurrentIndex(dialog.speaker.findText("HDMI 0"))
        press(dialog, QDialogButtonBox.StandardButton.Ok)
        assert (settings.microphone, settings.speaker) == ("USB Audio Microphone", "HDMI 0")

    run(scenario())


def test_the_level_meter_follows_the_microphone_and_closes_it_with_the_dialog(
    qtbot: Any, run: Any
) -> None:
    async def scenario() -> None:
        dialog = make_dialog(qtbot, Settings(sources=[]), FakeSoundCard, show=True)
        first = dialog.microphone_track
        assert isinstance(first, FakeMicrophone) and first.device is not None
        assert first.device.name == "Jabra Evolve2 headset"  # the default
        await until(lambda: dialog.meter.value() > 80, seconds(5), "the meter to rise")

        dialog.microphone.setCurrentIndex(dialog.microphone.findText("USB Audio Microphone"))
        assert first.fake.stopped and first.readyState == "ended"
        second = dialog.microphone_track
        assert isinstance(second, FakeMicrophone) and second.device is not None
        assert second.device.name == "USB Audio Microphone"

        dialog.close()
        assert second.fake.stopped and dialog.microphone_track is None
        assert dialog.meter.value() == 0

    run(scenario())


def test_a_microphone_that_cannot_open_is_named_with_those_found(qtbot: Any, run: Any) -> None:
    async def scenario() -> None:
        settings = Settings(sources=[], microphone="Stethoscope mic")
        dialog = make_dialog(qtbot, settings, FakeSoundCard, show=True)
        assert dialog.microphone.currentText() == "Stethoscope mic (not connected)"
        assert dialog.microphone_track is None
        text = dialog.audio_status.text()
        assert "cannot open audio device 'Stethoscope mic'" in text
        assert "1: USB Audio Microphone" in text and not dialog.audio_status.isHidden()

        dialog.microphone.setCurrentIndex(0)  # back to the system default: the error goes
        assert dialog.microphone_track is not None and dialog.audio_status.isHidden()

    run(scenario())


def test_the_test_tone_plays_one_second_of_440_hz_on_the_chosen_speaker(
    qtbot: Any, run: Any
) -> None:
    async def scenario() -> None:
        dialog = make_dialog(qtbot, Settings(sources=[]), FakeSoundCard, show=True)
        dialog.speaker.setCurrentIndex(dialog.speaker.findText("HDMI 0"))
        qtbot.mouseClick(dialog.tone_button, Qt.MouseButton.LeftButton)
        playing = dialog.play_test_tone()  # asking again while it plays: the same tone
        await until(lambda: not dialog.tone_button.isEnabled(), seconds(2), "tone to start")
        await playing
        assert dialog.tone_button.isEnabled()
        (player,) = dialog.players
        assert player.device is not None and player.device.name == "HDMI 0"
        assert player.problem == "" and player.sink is None  # closed after playing
        played = player.fake.played()[:, 0]
        assert TONE_SECONDS - 0.1 <= len(played) / 48000 <= TONE_SECONDS + seconds(0.5)
        assert tone_power(played, 48000, 440.0) > 0.9

    run(scenario())


def test_a_speaker_that_cannot_open_shows_why(qtbot: Any, run: Any) -> None:
    async def scenario() -> None:
        dialog = make_dialog(qtbot, Settings(sources=[], speaker="Bluetooth speaker"),
                             FakeSoundCard, show=True)
        await dialog.play_test_tone()
        (player,) = dialog.players
        assert player.sink is None and player.problem
        assert "cannot open audio device 'Bluetooth speaker'" in dialog.audio_status.text()
        assert dialog.tone_button.isEnabled()

    run(scenario())


def test_every_control_has_its_own_alt_key(qtbot: Any) -> None:
    dialog = make_dialog(qtbot, Settings(sources=[SYNTHETIC]))
    texts = [w.text() for w in dialog.findChildren(QLabel) + dialog.findChildren(QPushButton)]
    keys = [t[t.index("&") + 1].lower() for t in texts if "&" in t.replace("&&", "")]
    assert len(keys) >= 12
    assert len(keys) == len(set(keys)), sorted(keys)
    for label in dialog.findChildren(QLabel):
        if "&" in label.text():
            assert label.buddy() is not None, label.text()


def test_a_speaker_problem_clears_once_a_working_speaker_plays(qtbot: Any, run: Any) -> None:
    async def scenario() -> None:
        settings = Settings(sources=[], microphone="Stethoscope mic", speaker="Bluetooth")
        dialog = make_dialog(qtbot, settings, FakeSoundCard, show=True)
        await dialog.play_test_tone()
        text = dialog.audio_status.text()
        assert "'Stethoscope mic'" in text and "'Bluetooth'" in text  # both problems shown
        dialog.speaker.setCurrentIndex(dialog.speaker.findText("HDMI 0"))
        await dialog.play_test_tone()
        text = dialog.audio_status.text()
        assert "'Stethoscope mic'" in text and "'Bluetooth'" not in text

    run(scenario())
