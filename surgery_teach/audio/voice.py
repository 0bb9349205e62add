"""One participant's sound in a session: microphone, speaker, echo cancellation, watch.

:class:`Voice` owns the microphone the participant speaks into (through echo cancellation
and noise suppression), the one :class:`~surgery_teach.audio.speaker.Speaker` every other
voice plays on, and a watch that looks at both devices every quarter second. A device
that goes away is told (a :class:`VoiceEvent`, in plain words, and in the log) within
two seconds; the session goes on (silence is sent, voices are still received), and the
device is opened again by itself when it comes back, or the user picks another
(:meth:`Voice.switch_microphone`, :meth:`Voice.switch_speaker`).

It runs on the session's asyncio loop; it imports no Qt. Push-to-talk and muting stay
on the microphone track (:meth:`~surgery_teach.audio.tracks.LocalAudioTrack.mute`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from aiortc.mediastreams import MediaStreamTrack

from surgery_teach.audio.health import CHECK_EVERY
from surgery_teach.audio.playback import AudioPlayer
from surgery_teach.audio.priority import LOOP_PRIORITY, raise_thread
from surgery_teach.audio.processing import EchoReference, VoiceProcessing
from surgery_teach.audio.speaker import Speaker
from surgery_teach.audio.tracks import LocalAudioTrack, MicrophoneTrack
from surgery_teach.errors import AudioDeviceError

logger = logging.getLogger("surgery_teach.audio")

Device = Literal["microphone", "speaker"]
Change = Literal["lost", "back", "switched", "missing"]


@dataclass(frozen=True)
class VoiceEvent:
    """Something that happened to a sound device, for the window and the log."""

    device: Device
    change: Change
    #: The device's name as PortAudio gives it ("" for the system default).
    name: str = ""
    #: The plain-language detail behind a ``missing`` device.
    detail: str = ""

    @property
    def text(self) -> str:
        """The sentence to show, in English (the window translates by :attr:`change`)."""
        name = self.name or f"the {self.device}"
        if self.change == "lost":
            if self.device == "microphone":
                return (f"Microphone lost ({name}): the others hear silence. Your voice "
                        "comes back by itself when it returns, or pick another microphone.")
            return (f"Speaker lost ({name}): you hear no one. Sound comes back by itself "
                    "when it returns, or pick another speaker.")
        if self.change == "back":
            return f"{self.device.capitalize()} back ({name})."
        if self.change == "switched":
            return f"{self.device.capitalize()} is now {name}."
        return f"No {self.device}: {self.detail}"


class Voice:
    """The microphone and speaker of one participant, watched and switchable.

    ``microphone``/``speaker``: device names (``None``: the system default); ``speak``:
    open the microphone at all; ``track``: send this instead of a microphone (a test
    tone); ``output=False``: play nothing. ``on_event`` hears every
    :class:`VoiceEvent` on the loop. Call :meth:`open` then :meth:`start` on the
    session's loop, and ``await`` :meth:`close` at the end.
    """

    def __init__(self, *, microphone: str | None = None, speaker: str | None = None,
                 speak: bool = True, track: LocalAudioTrack | None = None,
                 output: bool = True, echo_cancellation: bool = True,
                 noise_suppression: bool = True,
                 on_event: Callable[[VoiceEvent], None] | None = None) -> None:
        self.microphone_name = microphone
        self.speaker_name = speaker
        self.speak = speak
        self.output = output
        self.reference = EchoReference()
        self.processing = VoiceProcessing(self.reference, echo_cancellation=echo_cancellation,
                                          noise_suppression=noise_suppression)
        #: The track sent to the others (the microphone, or the ``track`` given).
        self.microphone: LocalAudioTrack | None = track
        self.speaker: Speaker | None = None
        self.players: dict[str, AudioPlayer] = {}
        self._on_event = on_event or (lambda event: None)
        self._watch: asyncio.Task[None] | None = None

    # -- opening ----------------------------------------------------------------------------

    def open(self) -> list[VoiceEvent]:
        """Open the microphone (if this participant speaks) and the speaker; what could
        not be opened comes back as ``missing`` events (the session goes on without)."""
        events = []
        if self.speak and self.microphone is None:
            try:
                self.microphone = self._open_microphone(self.microphone_name)
            except AudioDeviceError as exc:
                events.append(VoiceEvent("microphone", "missing", self.microphone_name or "",
                                         str(exc)))
        self.speaker = self._open_speaker(self.speaker_name)
        if self.speaker.problem and self.output:
            events.append(VoiceEvent("speaker", "missing", self.speaker_name or "",
                                     self.speaker.problem))
        for event in events:
            logger.warning("%s", event.text)
        return events

    def _open_microphone(self, device: str | None) -> LocalAudioTrack:
        """The microphone track (raises :class:`AudioDeviceError`): the seam tests replace."""
        return MicrophoneTrack(device, processing=self.processing)

    def _open_speaker(self, device: str | None) -> Speaker:
        """The session's speaker, never raising: the seam tests replace."""
        return Speaker(device, output=self.output, required=False, reference=self.reference)

    def start(self) -> None:
        """Start watching the devices (on the running loop), and ask for real time for
        the loop's thread: the voice's packets, jitter buffer and Opus encoding run there
        (:mod:`~surgery_teach.audio.priority`)."""
        if self._watch is None:
            raise_thread("session loop", priority=LOOP_PRIORITY)
            self._watch = asyncio.get_running_loop().create_task(self._watch_devices())

    # -- voices of the others -----------------------------------------------------------------

    def play(self, track: MediaStreamTrack, participant: str) -> AudioPlayer:
        """Play ``participant``'s voice on the speaker (replacing an older track of theirs)."""
        if self.speaker is None:
            self.speaker = self._open_speaker(self.speaker_name)
        old = self.players.pop(participant, None)
        if old is not None:
            task = asyncio.ensure_future(old.stop())
            task.add_done_callback(lambda _t: None)
        player = AudioPlayer(track, speaker=self.speaker)
        player.start()
        self.players[participant] = player
        return player

    # -- devices ------------------------------------------------------------------------------

    @property
    def microphone_problem(self) -> str:
        mic = self.microphone
        return getattr(mic, "problem", "") if mic is not None else ""

    async def switch_microphone(self, name: str | None) -> None:
        """Record from ``name`` (``None``: the default) from now on; raises
        :class:`AudioDeviceError` if it cannot be opened (the old one comes back)."""
        mic = self.microphone
        if not isinstance(mic, MicrophoneTrack):
            raise AudioDeviceError(name or "default microphone", [],
                                   "this session sends no microphone")
        await mic.switch(name)
        self.microphone_name = name
        self._tell(VoiceEvent("microphone", "switched", _name(mic.device)))

    async def switch_speaker(self, name: str | None) -> None:
        """Play on ``name`` (``None``: the default) from now on; raises
        :class:`AudioDeviceError` if it cannot be opened (the old one comes back)."""
        if self.speaker is None:
            self.speaker = self._open_speaker(name)
        else:
            await self.speaker.switch(name)
        self.speaker_name = name
        self._tell(VoiceEvent("speaker", "switched", _name(self.speaker.device)))

    def set_processing(self, *, echo_cancellation: bool | None = None,
                       noise_suppression: bool | None = None) -> None:
        """Turn echo cancellation or noise suppression on or off (any thread)."""
        self.processing.configure(echo_cancellation=echo_cancellation,
                                  noise_suppression=noise_suppression)

    async def _watch_devices(self) -> None:
        while True:
            await asyncio.sleep(CHECK_EVERY)
            await self.check_devices()

    async def check_devices(self) -> None:
        """Look at both devices once: tell what went away or came back."""
        mic = self.microphone
        if isinstance(mic, MicrophoneTrack):
            change = await mic.check()
            if change is not None:
                self._tell(VoiceEvent("microphone", change, _name(mic.device)))  # type: ignore[arg-type]
        speaker = self.speaker
        if speaker is not None:
            change = await speaker.check()
            if change is not None:
                self._tell(VoiceEvent("speaker", change, _name(speaker.device)))  # type: ignore[arg-type]

    def _tell(self, event: VoiceEvent) -> None:
        try:
            self._on_event(event)
        except Exception:
            logger.exception("a voice event listener failed")

    # -- closing ------------------------------------------------------------------------------

    async def close(self) -> None:
        """Stop watching and playing, and close the microphone; safe to call twice."""
        watch, self._watch = self._watch, None
        if watch is not None:
            watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watch
        for player in list(self.players.values()):
            await player.stop()
        self.players.clear()
        if self.speaker is not None:
            self.speaker.close()
        if self.microphone is not None:
            self.microphone.stop()


def _name(device: object) -> str:
    return str(getattr(device, "name", "") or "")
