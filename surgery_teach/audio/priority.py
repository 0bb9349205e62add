"""Asking the system to run the voice's threads ahead of other work.

A word reaches the far ear through a handful of threads: the sound card's callbacks
(microphone and speaker), the session's loop (RTP, the jitter buffer, Opus encoding) and
aiortc's audio decoder thread. Each does well under a millisecond of work every 5 to
10 ms, but on a busy machine the scheduler can keep any of them waiting for tens or
hundreds of milliseconds, and the voice then stutters or falls behind. A desktop's sound
server avoids this by running in real time; the voice's own threads ask for the same:

- the sound card's threads ask for ``SCHED_RR`` at :data:`CALLBACK_PRIORITY`, and so do
  the threads of the sound server's client library that carry their sound
  (:data:`SOUND_CLIENT_THREADS`); the loop and the decoder ask for :data:`LOOP_PRIORITY`
  (lower: those also carry video work);
- a thread the system refuses real time to (no ``CAP_SYS_NICE``, no ``RLIMIT_RTPRIO``)
  asks for a raised nice value (:data:`RAISED_NICE`) instead, and failing that runs as
  it is. The refusal is logged once, in one line: it is not an error, only the voice
  holds up less well when the machine is busy.

Every request carries ``SCHED_RESET_ON_FORK``: threads and processes started *from* a
voice thread (``asyncio.to_thread`` workers, a video encoder) start at normal priority.
Linux applies ``sched_setscheduler`` and ``setpriority`` to one thread (a thread id);
elsewhere nothing is asked. ``SURGERY_TEACH_AUDIO_PRIORITY`` chooses what is asked:
``realtime`` (the default), ``raised`` (nice only) or ``normal`` (nothing, e.g. to
compare).
"""

from __future__ import annotations

import logging
import os
import queue
import sys
import threading
from typing import Any, Literal

logger = logging.getLogger("surgery_teach.audio")

Level = Literal["realtime", "raised", "normal"]
ENV_VARIABLE = "SURGERY_TEACH_AUDIO_PRIORITY"
#: Real-time priority (1-99) of the sound card's threads: below a desktop sound server's
#: own threads in JACK setups, above PulseAudio's default (5), within rtkit's limit (20).
CALLBACK_PRIORITY = 10
#: Real-time priority of the session loop and the audio decoder thread.
LOOP_PRIORITY = 5
#: The nice value asked for when real time is refused (-20 highest, 0 normal).
RAISED_NICE = -10

#: Threads of the sound server's client library that carry our streams' sound to and from
#: the server, found by name (they are not ours): libpulse's mainloop, which PortAudio
#: reaches through ALSA's pulse plugin. Left at normal priority, a busy machine stalls them
#: and the voice with them, however fast our own callbacks run.
SOUND_CLIENT_THREADS = frozenset({"threaded-ml"})

_told: set[str] = set()  # refusals already logged (one line each per process)
_client_threads: set[int] = set()  # sound client threads already raised
_told_lock = threading.Lock()


def wanted_level() -> Level:
    """What the environment asks for (``realtime`` unless ``SURGERY_TEACH_AUDIO_PRIORITY``
    says ``raised`` or ``normal``; anything else is named in the log and ignored)."""
    value = os.environ.get(ENV_VARIABLE, "realtime").strip().lower() or "realtime"
    if value in ("realtime", "raised", "normal"):
        return value  # type: ignore[return-value]
    _tell_once(f"bad:{value}", f"{ENV_VARIABLE}={value!r} is not one of realtime, raised, "
               "normal: asking for realtime")
    return "realtime"


# The two system calls, as seams: tests replace them to play a system that refuses.
def _set_scheduler(thread_id: int, policy: int, priority: int) -> None:
    os.sched_setscheduler(thread_id, policy, os.sched_param(priority))


def _set_nice(thread_id: int, nice: int) -> None:
    os.setpriority(os.PRIO_PROCESS, thread_id, nice)


def raise_thread(role: str, *, priority: int = CALLBACK_PRIORITY,
                 thread_id: int | None = None) -> Level:
    """Ask for real time (else a raised nice value) for one thread: ``thread_id``, or
    the calling thread. Returns what was granted; never raises. ``role`` names the
    thread in the log line told when the system refuses."""
    wanted = wanted_level()
    if wanted == "normal" or not sys.platform.startswith("linux"):
        return "normal"
    tid = threading.get_native_id() if thread_id is None else thread_id
    refused = ""
    if wanted == "realtime":
        try:
            _set_scheduler(tid, os.SCHED_RR | os.SCHED_RESET_ON_FORK, priority)
            logger.debug("%s thread %d runs in real time (SCHED_RR %d)", role, tid, priority)
            return "realtime"
        except OSError as exc:  # EPERM without CAP_SYS_NICE or an RLIMIT_RTPRIO
            refused = f"real time refused ({exc.strerror or exc})"
    try:
        if os.sched_getscheduler(tid) == os.SCHED_OTHER:  # (not one started in real time)
            # the reset-on-fork flag alone: threads it starts go back to nice 0
            _set_scheduler(tid, os.SCHED_OTHER | os.SCHED_RESET_ON_FORK, 0)
        _set_nice(tid, RAISED_NICE)
        logger.debug("%s thread %d runs at nice %d", role, tid, RAISED_NICE)
        if refused:
            _tell_once("raised", f"sound threads run at a raised priority (nice "
                       f"{RAISED_NICE}), not in real time: {refused}; on a busy machine "
                       "the voice may stutter (allow real time with rtkit or an "
                       "rtprio limit in /etc/security/limits.d)")
        return "raised"
    except OSError as exc:
        why = f"{refused + '; ' if refused else ''}raised priority refused " \
              f"({exc.strerror or exc})"
    _tell_once("normal", f"sound threads run at normal priority: {why}; on a busy machine "
               "the voice may stutter (allow real time with rtkit or an rtprio limit in "
               "/etc/security/limits.d)")
    return "normal"


def raise_sound_client_threads() -> list[int]:
    """Raise this process's :data:`SOUND_CLIENT_THREADS` not raised yet (call after
    opening a stream: its library threads exist by then); the thread ids asked for."""
    if wanted_level() == "normal" or not sys.platform.startswith("linux"):
        return []
    try:
        tasks = os.listdir("/proc/self/task")
    except OSError:
        return []
    asked = []
    for task in tasks:
        tid = int(task)
        if tid in _client_threads:
            continue
        try:
            with open(f"/proc/self/task/{task}/comm", encoding="utf-8") as comm:
                name = comm.read().strip()
        except OSError:  # (it ended meanwhile)
            continue
        if name in SOUND_CLIENT_THREADS:
            _client_threads.add(tid)
            raise_thread(f"sound server client ({name})", thread_id=tid)
            asked.append(tid)
    return asked


def _tell_once(key: str, text: str) -> None:
    with _told_lock:
        if key in _told:
            return
        _told.add(key)
    logger.info("%s", text)


class ThreadPriority:
    """Raises whichever thread calls :meth:`claim`, once per thread: for callbacks that
    run on a thread someone else made (PortAudio's, which a reopened stream replaces).

    :meth:`claim` costs one ``gettid`` when there is nothing to do.
    """

    def __init__(self, role: str, priority: int = CALLBACK_PRIORITY) -> None:
        self.role = role
        self.priority = priority
        #: What the last thread raised was granted (``None`` before the first claim).
        self.granted: Level | None = None
        self._thread_id: int | None = None

    def claim(self) -> None:
        """Raise the calling thread, unless it is the one raised last."""
        tid = threading.get_native_id()
        if tid != self._thread_id:
            self._thread_id = tid
            self.granted = raise_thread(self.role, priority=self.priority)


class DecoderQueue(queue.Queue):  # type: ignore[type-arg]
    """The input of aiortc's audio decoder thread (made without a hook of ours): its
    first ``get`` raises that thread, at :data:`LOOP_PRIORITY`."""

    def __init__(self) -> None:
        super().__init__()
        self.priority = ThreadPriority("audio decoder", LOOP_PRIORITY)

    def get(self, block: bool = True, timeout: float | None = None) -> Any:
        self.priority.claim()
        return super().get(block, timeout)
