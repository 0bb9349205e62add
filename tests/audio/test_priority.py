"""The voice's threads ask for real time themselves, and go on quietly when refused.

A busy machine otherwise delays the sound card's callbacks, the session loop and the
audio decoder by up to hundreds of milliseconds (the voice benchmark at normal priority:
p95 mouth-to-ear ~350 ms). The system calls are replaced by :class:`System`, which
records which thread asked for what and can refuse like a desktop without rtkit; the
microphone, speaker, voice and aiortc peers are the real code. Two tests make the real
calls in a child process, once with ``CAP_SYS_NICE`` and once without.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator

import pytest
from aiortc import RTCConfiguration, RTCPeerConnection
from aiortc.mediastreams import MediaStreamTrack

from surgery_teach.audio import ToneTrack, priority
from surgery_teach.audio.priority import (
    CALLBACK_PRIORITY,
    LOOP_PRIORITY,
    RAISED_NICE,
    DecoderQueue,
)
from surgery_teach.rtc import aiortc_tuning
from surgery_teach.rtc.aiortc_tuning import use_loopback_ice
from tests.audio.fakes import FAKE_DEVICES, FakeMicrophone, FakeSoundCard, FakeVoice, until
from tests.timing import seconds

HEADSET = FAKE_DEVICES[0].name
REALTIME = os.SCHED_RR | os.SCHED_RESET_ON_FORK


class System:
    """Stands in for ``sched_setscheduler`` and ``setpriority``: records each request
    (thread id, what, value) and refuses those it is told to, with ``EPERM``."""

    def __init__(self) -> None:
        self.asked: list[tuple[int, str, int]] = []
        self.refuse_realtime = False
        self.refuse_nice = False
        self._lock = threading.Lock()

    def set_scheduler(self, thread_id: int, policy: int, value: int) -> None:
        with self._lock:
            self.asked.append((thread_id, "policy", policy))
            self.asked.append((thread_id, "rtprio", value))
        if self.refuse_realtime and policy & ~os.SCHED_RESET_ON_FORK == os.SCHED_RR:
            raise PermissionError(errno.EPERM, "Operation not permitted")

    def set_nice(self, thread_id: int, nice: int) -> None:
        with self._lock:
            self.asked.append((thread_id, "nice", nice))
        if self.refuse_nice:
            raise PermissionError(errno.EPERM, "Operation not permitted")

    def of(self, thread_id: int | None) -> list[tuple[str, int]]:
        """What ``thread_id`` asked for, in order."""
        with self._lock:
            return [(what, value) for tid, what, value in self.asked if tid == thread_id]


@pytest.fixture
def system(monkeypatch: pytest.MonkeyPatch) -> Iterator[System]:
    fake = System()
    monkeypatch.setenv(priority.ENV_VARIABLE, "realtime")
    monkeypatch.setattr(priority, "_set_scheduler", fake.set_scheduler)
    monkeypatch.setattr(priority, "_set_nice", fake.set_nice)
    monkeypatch.setattr(priority, "_told", set())
    yield fake


async def open_voice(card: FakeSoundCard) -> FakeVoice:
    voice = FakeVoice(card, echo_cancellation=False, noise_suppression=False,
                      microphone=HEADSET, speaker=HEADSET)
    assert voice.open() == []
    voice.start()
    return voice


def thread_of(stream: object) -> int | None:
    """The native id of the fake sound card thread that calls ``stream``'s callback."""
    clock = getattr(stream, "_clock", None)
    return clock.native_id if clock is not None else None


async def test_the_sound_card_threads_and_the_loop_ask_for_real_time_once_each(
        system: System) -> None:
    voice = await open_voice(FakeSoundCard())
    mic, speaker = voice.microphone, voice.speaker
    assert isinstance(mic, FakeMicrophone) and speaker is not None
    try:
        await until(lambda: mic.health.beats > 20 and speaker.health.beats > 20,
                    seconds(5), "blocks from both devices")
        mic_thread, speaker_thread = thread_of(mic.fake), thread_of(speaker.sink)
        assert mic_thread is not None and speaker_thread is not None
        assert mic_thread != speaker_thread
        for thread in (mic_thread, speaker_thread):  # asked once, not on every block
            assert system.of(thread) == [("policy", REALTIME), ("rtprio", CALLBACK_PRIORITY)]
        assert mic.priority.granted == speaker.priority.granted == "realtime"
        # the loop the voice runs on (here the test's own) asks at the lower priority
        assert system.of(threading.get_native_id()) == [("policy", REALTIME),
                                                        ("rtprio", LOOP_PRIORITY)]
    finally:
        await voice.close()


async def test_a_refusal_is_told_once_in_one_line_not_an_error_and_the_voice_goes_on(
        system: System, caplog: pytest.LogCaptureFixture) -> None:
    system.refuse_realtime = system.refuse_nice = True
    caplog.set_level(logging.DEBUG, logger="surgery_teach.audio")
    voice = await open_voice(FakeSoundCard())
    mic, speaker = voice.microphone, voice.speaker
    assert isinstance(mic, FakeMicrophone) and speaker is not None
    try:
        await until(lambda: mic.health.beats > 20 and speaker.health.beats > 20,
                    seconds(5), "blocks from both devices")
        frames = [await asyncio.wait_for(mic.recv(), seconds(2)) for _ in range(5)]
        assert [f.samples for f in frames] == [480] * 5  # the microphone still sends
        assert mic.priority.granted == speaker.priority.granted == "normal"
        # both ways were tried, on the sound card's own threads
        assert ("nice", RAISED_NICE) in system.of(thread_of(mic.fake))
        told = [r for r in caplog.records if "priority" in r.getMessage()
                and r.levelno >= logging.INFO]
        assert len(told) == 1, [r.getMessage() for r in told]
        assert told[0].levelno == logging.INFO
        assert "normal priority" in told[0].getMessage()
        assert "Operation not permitted" in told[0].getMessage()
    finally:
        await voice.close()


def test_without_real_time_a_raised_nice_value_is_asked_for_and_said(
        system: System, caplog: pytest.LogCaptureFixture) -> None:
    system.refuse_realtime = True
    caplog.set_level(logging.INFO, logger="surgery_teach.audio")
    assert priority.raise_thread("microphone") == "raised"
    assert priority.raise_thread("speaker") == "raised"
    me = threading.get_native_id()
    assert ("nice", RAISED_NICE) in system.of(me)
    told = [r.getMessage() for r in caplog.records]
    assert len(told) == 1 and f"nice {RAISED_NICE}" in told[0]


def test_normal_asks_for_nothing(system: System, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(priority.ENV_VARIABLE, "normal")
    assert priority.raise_thread("microphone") == "normal"
    assert system.asked == []


def test_the_decoder_queue_raises_the_thread_that_reads_it(system: System) -> None:
    q = DecoderQueue()
    got: list[object] = []
    reader = threading.Thread(target=lambda: got.extend([q.get(), q.get()]))
    reader.start()
    q.put("first")
    q.put("second")
    reader.join(seconds(5))
    assert got == ["first", "second"]
    assert system.of(reader.native_id) == [("policy", REALTIME), ("rtprio", LOOP_PRIORITY)]


async def test_aiortcs_audio_decoder_thread_of_a_tuned_receiver_asks_for_real_time(
        system: System) -> None:
    use_loopback_ice(True)
    sender = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    receiver = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    arrived: asyncio.Future[MediaStreamTrack] = asyncio.get_running_loop().create_future()

    @receiver.on("track")
    def _on_track(track: MediaStreamTrack) -> None:
        assert aiortc_tuning.tune_audio_receiver(receiver, track) is not None
        arrived.set_result(track)

    sender.addTrack(ToneTrack())
    try:
        await sender.setLocalDescription(await sender.createOffer())
        await receiver.setRemoteDescription(sender.localDescription)
        await receiver.setLocalDescription(await receiver.createAnswer())
        await sender.setRemoteDescription(receiver.localDescription)
        track = await asyncio.wait_for(arrived, seconds(10))
        await asyncio.wait_for(track.recv(), seconds(10))  # decoded by that thread
        decoder = receiver.getReceivers()[0]._RTCRtpReceiver__decoder_thread  # type: ignore[attr-defined]
        assert system.of(decoder.native_id) == [("policy", REALTIME),
                                                ("rtprio", LOOP_PRIORITY)]
    finally:
        await sender.close()
        await receiver.close()
        use_loopback_ice(False)


# -- the real system calls, in a child process (this one's threads stay as they are) ---------

CHILD = """
import logging, os, sys, threading
logging.basicConfig(level=logging.INFO, stream=sys.stdout, format="LOG %(levelname)s %(message)s")
from surgery_teach.audio.priority import raise_thread
results = []
def sound_card():
    results.append(raise_thread("microphone"))
    results.append(os.sched_getscheduler(0) & ~os.SCHED_RESET_ON_FORK == os.SCHED_RR)
    child = threading.Thread(target=lambda: results.append(os.sched_getscheduler(0)))
    child.start(); child.join()
t = threading.Thread(target=sound_card); t.start(); t.join()
results.append(raise_thread("speaker"))
print("RESULT", results, os.sched_getscheduler(0) & ~os.SCHED_RESET_ON_FORK == os.SCHED_RR)
"""


def run_child(*wrapper: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, priority.ENV_VARIABLE: "realtime"}
    return subprocess.run([*wrapper, sys.executable, "-c", CHILD], capture_output=True,
                          text=True, env=env, timeout=seconds(30), check=False)


needs_root = pytest.mark.skipif(os.geteuid() != 0 or shutil.which("setpriv") is None,
                                reason="needs root (CAP_SYS_NICE) and setpriv")


@needs_root
def test_with_cap_sys_nice_the_thread_really_runs_in_real_time_and_its_children_do_not(
        ) -> None:
    result = run_child()
    assert result.returncode == 0, result.stderr
    # the sound card thread: granted, in SCHED_RR; a thread it starts: back to normal
    assert f"RESULT ['realtime', True, {os.SCHED_OTHER}, 'realtime'] True" in result.stdout


@needs_root
def test_without_cap_sys_nice_the_real_refusal_is_one_info_line_and_no_error() -> None:
    result = run_child("setpriv", "--inh-caps=-sys_nice", "--bounding-set=-sys_nice", "--")
    assert result.returncode == 0, result.stderr
    assert f"RESULT ['normal', False, {os.SCHED_OTHER}, 'normal'] False" in result.stdout
    logged = [line for line in result.stdout.splitlines() if line.startswith("LOG")]
    assert len(logged) == 1 and logged[0].startswith("LOG INFO sound threads run at "
                                                     "normal priority"), logged
    assert "Traceback" not in result.stderr


def test_the_sound_servers_client_threads_are_found_by_name_and_raised_once(
        system: System, monkeypatch: pytest.MonkeyPatch) -> None:
    import ctypes

    monkeypatch.setattr(priority, "_client_threads", set())
    named, done = threading.Event(), threading.Event()

    def libpulse_mainloop() -> None:  # a thread named as libpulse names its own
        ctypes.CDLL(None).prctl(15, b"threaded-ml", 0, 0, 0)  # PR_SET_NAME
        named.set()
        done.wait(seconds(10))

    other = threading.Thread(target=done.wait, args=(seconds(10),))
    mainloop = threading.Thread(target=libpulse_mainloop)
    other.start()
    mainloop.start()
    try:
        assert named.wait(seconds(5))
        assert priority.raise_sound_client_threads() == [mainloop.native_id]
        assert priority.raise_sound_client_threads() == []  # once
        assert system.of(mainloop.native_id) == [("policy", REALTIME),
                                                 ("rtprio", CALLBACK_PRIORITY)]
        assert system.of(other.native_id) == []
    finally:
        done.set()
        other.join()
        mainloop.join()
