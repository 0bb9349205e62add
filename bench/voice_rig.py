"""Virtual sound devices for two clients on one machine: a private PulseAudio server with
null sinks, reached through ALSA's pulse plugin (as PortAudio sees any device).

One direction of the call is one stereo null sink, a "wire": for A to B, ``wire_ab``'s
left channel is A's mouth (the rig plays into it through the remapped sink
``mouth_a``; A's microphone ``a_mic`` records it through the remapped source
``mic_a``) and its right channel is B's ear (B's speaker ``b_speaker`` plays into it
through ``ear_b``). Recording the wire's monitor gives what A's microphone heard and what
B's speaker played in one stereo stream, sample-aligned: mouth-to-ear needs no clock.
``wire_ba`` is the same the other way.

The server is ours alone (its own runtime folder and socket): nothing of the machine's
sound is touched, and :meth:`PulseRig.stop` / :meth:`PulseRig.start` simulate a sound
server that dies and comes back. Needs Debian's ``pulseaudio``, ``pulseaudio-utils`` and
``libasound2-plugins``.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

CLIENTS = ("a", "b")
RATE = 48000
ALSA_CONF = "/usr/share/alsa/alsa.conf"


class RigError(RuntimeError):
    """The virtual devices could not be set up; the message says what to install."""


def rig_available() -> str:
    """``""`` when the rig can run here, else what is missing."""
    missing = [tool for tool in ("pulseaudio", "pactl") if shutil.which(tool) is None]
    if missing:
        return f"{', '.join(missing)} not found: apt-get install pulseaudio pulseaudio-utils"
    if not Path("/usr/lib/x86_64-linux-gnu/alsa-lib/libasound_module_pcm_pulse.so").exists() \
            and not list(Path("/usr/lib").glob("*/alsa-lib/libasound_module_pcm_pulse.so")):
        return "ALSA's pulse plugin not found: apt-get install libasound2-plugins"
    return ""


def _die_with_parent() -> None:
    """In the child: be killed when the process that started the rig ends, however it
    ends (a benchmark stopped by a timeout must not leave a sound server behind)."""
    with contextlib.suppress(Exception):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def _pcm(name: str, device: str) -> str:
    return (f'pcm.{name} {{\n  type pulse\n  device "{device}"\n'
            f'  hint {{ show on description "{name}" }}\n}}\n')


class PulseRig:
    """A private PulseAudio server with a mouth and an ear per client."""

    def __init__(self, folder: Path | None = None) -> None:
        problem = rig_available()
        if problem:
            raise RigError(problem)
        self.folder = Path(folder or tempfile.mkdtemp(prefix="voice-rig-"))
        self.folder.mkdir(parents=True, exist_ok=True)
        self.socket = self.folder / "native"
        self.log = self.folder / "pulse.log"
        self._server: subprocess.Popen[bytes] | None = None
        self._echo_modules: list[int] = []
        (self.folder / "asound.conf").write_text(self._alsa_config(), encoding="utf-8")

    def _alsa_config(self) -> str:
        parts = []
        for x, wire in (("a", "wire_ab"), ("b", "wire_ba")):
            parts += [_pcm(f"{x}_mic", f"mic_{x}"), _pcm(f"{x}_speaker", f"ear_{x}"),
                      _pcm(f"rig_mouth_{x}", f"mouth_{x}"),
                      _pcm(f"rig_{wire}", f"{wire}.monitor")]
        return "".join(parts)

    @property
    def env(self) -> dict[str, str]:
        """What a process needs in its environment to see the rig's devices (only them
        and ALSA's defaults)."""
        return {
            "PULSE_SERVER": f"unix:{self.socket}",
            "ALSA_CONFIG_PATH": f"{ALSA_CONF}:{self.folder / 'asound.conf'}",
            "PULSE_RUNTIME_PATH": str(self.folder / "runtime"),
        }

    def process_env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(self.env)
        return env

    # -- the server ---------------------------------------------------------------------------

    def start(self, timeout: float = 10.0) -> None:
        """Start (or restart) the server with the null sinks; returns once it answers."""
        if self._server is not None and self._server.poll() is None:
            return
        modules = [f"module-native-protocol-unix socket={self.socket} auth-anonymous=1"]
        for speaker, listener in (("a", "b"), ("b", "a")):
            wire = f"wire_{speaker}{listener}"
            modules += [
                f"module-null-sink sink_name={wire} rate={RATE} channels=2 format=s16le "
                "channel_map=front-left,front-right",
                f"module-remap-sink sink_name=mouth_{speaker} master={wire} channels=1 "
                "channel_map=mono master_channel_map=front-left remix=no",
                f"module-remap-sink sink_name=ear_{listener} master={wire} channels=1 "
                "channel_map=mono master_channel_map=front-right remix=no",
                f"module-remap-source source_name=mic_{speaker} master={wire}.monitor "
                "channels=1 channel_map=mono master_channel_map=front-left remix=no",
                f"module-remap-source source_name=heard_{listener} master={wire}.monitor "
                "channels=1 channel_map=mono master_channel_map=front-right remix=no",
            ]
        command = ["pulseaudio", "-n", "--daemonize=no", "--exit-idle-time=-1",
                   "--use-pid-file=no", "--disable-shm=yes", f"--log-target=file:{self.log}",
                   "--realtime=no", "--high-priority=no"]
        for module in modules:
            command += ["-L", module]
        env = self.process_env()
        env["HOME"] = str(self.folder)
        env["XDG_RUNTIME_DIR"] = str(self.folder)
        self.socket.unlink(missing_ok=True)
        self._server = subprocess.Popen(command, env=env, stdin=subprocess.DEVNULL,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                        start_new_session=True, preexec_fn=_die_with_parent)
        deadline = time.monotonic() + timeout
        while not self._answers():
            if self._server.poll() is not None:
                raise RigError(f"pulseaudio exited at start; see {self.log}")
            if time.monotonic() > deadline:
                raise RigError(f"pulseaudio did not answer in {timeout:g} s; see {self.log}")
            time.sleep(0.05)
        self._give_priority(self._server.pid)
        self._keep_running()

    def _keep_running(self) -> None:
        """Play silence into each wire for as long as the server runs. An idle null sink's
        monitor delivers nothing (a microphone opened on it then waits seconds for its
        first sound), which a hardware microphone never does."""
        for wire in ("wire_ab", "wire_ba"):
            subprocess.Popen(["pacat", "--playback", f"--device={wire}", "--rate=48000",
                              "--channels=2", "--format=s16le", "--latency-msec=100",
                              "/dev/zero"], env=self.process_env(), stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                             start_new_session=True, preexec_fn=_die_with_parent)
        self._restart_wires()

    def _restart_wires(self, timeout: float = 5.0) -> None:
        """Have each wire's monitor deliver from now on, as a hardware microphone does.

        A null sink created before any stream asks it for a latency renders its first
        two seconds in one go (PulseAudio's largest block): a microphone on its monitor
        then hears nothing for about 1.8 s after the server starts, however early it was
        opened. Suspending and resuming the wire once the keep-alive streams play starts
        its clock again with their small blocks (measured: first capture callback 1.8 s
        after the server answered without this, 0.02 s after opening with it)."""
        deadline = time.monotonic() + timeout
        while self.pactl("list", "short", "sink-inputs").count("protocol-native") < 2:
            if time.monotonic() > deadline:
                raise RigError(f"the rig's keep-alive streams did not start; see {self.log}")
            time.sleep(0.01)
        for wire in ("wire_ab", "wire_ba"):
            self.pactl("suspend-sink", wire, "1")
            self.pactl("suspend-sink", wire, "0")

    @staticmethod
    def _give_priority(pid: int) -> None:
        """A desktop's sound server runs in real time (rtkit); so does ours, where we may
        (root): a shared build machine's other jobs must not starve it."""
        if os.geteuid() == 0 and shutil.which("chrt"):
            subprocess.run(["chrt", "-a", "-r", "-p", "10", str(pid)], check=False,
                           capture_output=True)

    def _answers(self) -> bool:
        if not self.socket.exists():
            return False
        result = subprocess.run(["pactl", "info"], env=self.process_env(),
                                capture_output=True, check=False, timeout=5)
        return result.returncode == 0

    def stop(self) -> None:
        """Kill the server at once, as a crash would (streams on it just stop)."""
        server, self._server = self._server, None
        self._echo_modules.clear()
        if server is not None and server.poll() is None:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=10)

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)

    # -- the echo path -------------------------------------------------------------------------

    def pactl(self, *args: str) -> str:
        result = subprocess.run(["pactl", *args], env=self.process_env(), capture_output=True,
                                text=True, check=False, timeout=10)
        if result.returncode != 0:
            raise RigError(f"pactl {' '.join(args)} failed: {result.stderr.strip()}")
        return result.stdout.strip()

    def add_echo(self, client: str, *, delay_ms: int = 40, gain_db: float = -6.0) -> None:
        """What ``client``'s speaker plays comes back into its microphone ``delay_ms``
        later at ``gain_db``: a loudspeaker a metre from the microphone."""
        module = int(self.pactl("load-module", "module-loopback",
                                f"source=heard_{client}", f"sink=mouth_{client}",
                                f"latency_msec={delay_ms}", "adjust_time=0",
                                "source_dont_move=true", "sink_dont_move=true"))
        self._echo_modules.append(module)
        for line in self.pactl("list", "short", "sink-inputs").splitlines():
            fields = line.split()
            if len(fields) > 1 and fields[1] == str(module):
                self.pactl("set-sink-input-volume", fields[0], f"{gain_db}dB")

    def remove_echo(self) -> None:
        for module in self._echo_modules:
            self.pactl("unload-module", str(module))
        self._echo_modules.clear()


# -- the rig's own devices: play into the mouths, record mouths and ears ---------------------

class Recording:
    """What one rig device recorded, each block's first sample placed on the monotonic
    clock (PortAudio's capture time of the block, moved onto ``time.monotonic``)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._blocks: list[Any] = []
        self._marks: list[tuple[int, float]] = []  # (first sample index, monotonic time)
        self._count = 0
        self._lock = threading.Lock()

    def on_input(self, indata: Any, frames: int, time_info: Any, status: Any) -> None:
        now = time.monotonic()
        captured = now - max(0.0, time_info.currentTime - time_info.inputBufferAdcTime) \
            if time_info.inputBufferAdcTime else now - frames / RATE
        with self._lock:
            self._blocks.append(np.array(indata, dtype=np.int16))
            self._marks.append((self._count, captured))
            self._count += frames

    def samples(self, channel: int = 0) -> np.ndarray:
        """One channel of what was recorded (on a wire: 0 the mouth, 1 the ear)."""
        with self._lock:
            blocks = list(self._blocks)
        if not blocks:
            return np.zeros(0, np.int16)
        return np.concatenate([b[:, min(channel, b.shape[1] - 1)] for b in blocks])

    def clock(self) -> tuple[float, float]:
        """``(t0, rate)``: sample ``i`` was captured at ``t0 + i / rate``. The null sinks
        run on the system clock, so the rate is the nominal one; ``t0`` is the median over
        the blocks after the stream's first second (PortAudio over PulseAudio starts in
        fits), so one late callback does not move it."""
        with self._lock:
            marks = np.array(self._marks, dtype=np.float64)
        if not len(marks):
            return 0.0, float(RATE)
        offsets = marks[:, 1] - marks[:, 0] / RATE
        steady = offsets[marks[:, 0] >= RATE] if marks[-1, 0] >= 2 * RATE else offsets
        return float(np.median(steady)), float(RATE)

    def clock_spread(self) -> float:
        """How much the blocks' times scatter around :meth:`clock` (p90 - p10, s)."""
        with self._lock:
            marks = np.array(self._marks, dtype=np.float64)
        if len(marks) < 10:
            return float("nan")
        offsets = marks[:, 1] - marks[:, 0] / RATE
        return float(np.percentile(offsets, 90) - np.percentile(offsets, 10))

    def index_at(self, t: float) -> int:
        t0, rate = self.clock()
        return round((t - t0) * rate)

    def time_of(self, index: int) -> float:
        t0, rate = self.clock()
        return t0 + index / rate


class Mouth:
    """Plays a prepared signal into a client's mouth, starting at a given monotonic time,
    sample after sample (the position is taken from the clock once, then counted)."""

    def __init__(self) -> None:
        self.signal = np.zeros(0, dtype=np.int16)
        self.start_at: float | None = None
        self._position: int | None = None
        self._lock = threading.Lock()

    def say(self, signal: np.ndarray, at: float) -> None:
        with self._lock:
            self.signal, self.start_at, self._position = signal, at, None

    def on_output(self, outdata: Any, frames: int, time_info: Any, status: Any) -> None:
        outdata[:] = 0
        with self._lock:
            if self.start_at is None:
                return
            if self._position is None:
                # the first sample of this block reaches the sink at the DAC time
                played = time.monotonic() + max(
                    0.0, time_info.outputBufferDacTime - time_info.currentTime)
                self._position = round((played - self.start_at) * RATE)
            index = self._position
            self._position += frames
            if index + frames <= 0 or index >= self.signal.size:
                return
            lo, hi = max(0, index), min(self.signal.size, index + frames)
            outdata[lo - index : hi - index, 0] = self.signal[lo:hi]


class RigAudio:
    """The rig's streams: a :class:`Mouth` per client and a stereo :class:`Recording` of
    each wire (``"ab"``: A's mouth and B's ear). Open after the server is up;
    :meth:`reopen` after a restart."""

    def __init__(self) -> None:
        self.mouths = {x: Mouth() for x in CLIENTS}
        self.wires = {w: Recording(f"wire_{w}") for w in ("ab", "ba")}
        self._streams: list[Any] = []
        self._abandoned: list[Any] = []

    def open(self) -> None:
        import sounddevice as sd

        for x in CLIENTS:
            self._start(lambda x=x: sd.OutputStream(
                device=f"rig_mouth_{x}", samplerate=RATE, channels=1, dtype="int16",
                blocksize=960, latency="high", callback=self.mouths[x].on_output))
        for wire, recording in self.wires.items():
            self._start(lambda r=recording, w=wire: sd.InputStream(
                device=f"rig_wire_{w}", samplerate=RATE, channels=2, dtype="int16",
                blocksize=2400, latency="high", callback=r.on_input))

    def _start(self, make: Any, tries: int = 10) -> None:
        """Start a stream; one whose thread PortAudio gave up on (a server just back) is
        left alone, never closed (closing it under its late thread crashes), and tried
        anew."""
        for attempt in range(tries):
            stream = make()
            try:
                stream.start()
            except Exception:
                self._abandoned.append(stream)
                if attempt == tries - 1:
                    raise
                time.sleep(0.3)
                continue
            self._streams.append(stream)
            return

    def close(self) -> None:
        for stream in self._streams:
            with contextlib.suppress(Exception):
                stream.close()
        self._streams.clear()

    def reopen(self) -> None:
        """After the server came back: restart PortAudio (its device list) and reopen."""
        import sounddevice as sd

        self.close()
        sd._terminate()
        sd._initialize()
        self.open()
