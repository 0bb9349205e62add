"""Which received video shows each source, however many paths bring it at once.

A source (one participant's camera) usually arrives on one
:class:`~surgery_teach.media.receive.VideoReceiver`. While a room moves onto the media
server or back (:mod:`.class_route`), it arrives two ways for a moment: the old path goes
on until the new one brings pictures, then closes, and the session says ``video`` for the
new receiver before ``video-ended`` for the old one. Whoever shows the sources (a
window's tiles) must show each source once, in the same place, with its marks and its
freeze: :class:`ReceivedSources` keeps one entry per source and says which receiver
shows it. The newest path takes over once its first picture is there, or when the path
shown ends; the entry goes only when the last path of its source ends. Reports about
sources (link health) take one path of each: :func:`one_per_source`.

A receiver is another path of a source when it has the source's sender and label and
came another way (:attr:`~surgery_teach.media.receive.VideoReceiver.route`); two
receivers from one sender with one label that came the same way are two sources (two
cameras left with the same name), each shown.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from surgery_teach.media.receive import VideoReceiver


@dataclass(frozen=True)
class SourceKey:
    """One received source: who sends it, its label (marks refer to it) and, for a
    sender's second source of the same label, ``n`` (1, 2...)."""

    participant: str
    label: str
    n: int = 0


@dataclass(frozen=True)
class Shown:
    """What shows ``key`` from now on: ``receiver``, or nothing (None: the source is gone).
    ``new``: the source was not shown before."""

    key: SourceKey
    receiver: VideoReceiver | None
    new: bool = False


class ReceivedSources:
    """The received sources and the receiver that shows each (plain calls, no I/O: call
    from one thread, the one that shows them)."""

    def __init__(self) -> None:
        self._paths: dict[SourceKey, list[VideoReceiver]] = {}  # oldest first
        self._shown: dict[SourceKey, VideoReceiver] = {}

    def __len__(self) -> int:
        return len(self._shown)

    def entries(self) -> list[tuple[SourceKey, list[VideoReceiver]]]:
        """Each source and the receivers that bring it, oldest first."""
        return [(key, list(paths)) for key, paths in self._paths.items()]

    def shown(self, key: SourceKey) -> VideoReceiver | None:
        """The receiver that shows ``key`` now (None: not received)."""
        return self._shown.get(key)

    def key_of(self, receiver: VideoReceiver) -> SourceKey | None:
        """The source ``receiver`` brings (None: not added, or ended)."""
        return next((key for key, paths in self._paths.items() if receiver in paths), None)

    def waiting(self, receiver: VideoReceiver) -> bool:
        """Whether ``receiver`` is a newer path of a source shown by another, which takes
        over at its first picture (call :meth:`pictures` then)."""
        key = self.key_of(receiver)
        if key is None:
            return False
        shown, paths = self._shown[key], self._paths[key]
        return shown is not receiver and paths.index(receiver) > paths.index(shown)

    def add(self, receiver: VideoReceiver) -> Shown | None:
        """A receiver began (the session's ``video``): what changes on screen, if anything."""
        if self.key_of(receiver) is not None:
            return None  # told twice (a window made after the event reads it again)
        n = 0
        while True:
            key = SourceKey(receiver.participant, receiver.label, n)
            paths = self._paths.get(key)
            if paths is None:
                self._paths[key] = [receiver]
                self._shown[key] = receiver
                return Shown(key, receiver, new=True)
            if all(path.route != receiver.route for path in paths):
                paths.append(receiver)  # the same source, come another way
                return self.pictures(receiver)  # it may have brought pictures already
            n += 1  # another source of the same name, the same way

    def pictures(self, receiver: VideoReceiver) -> Shown | None:
        """``receiver`` has pictures now: a newer path than the one shown takes over."""
        key = self.key_of(receiver)
        if key is None or not self.waiting(receiver) or receiver.slot.latest() is None:
            return None
        self._shown[key] = receiver
        return Shown(key, receiver)

    def end(self, receiver: VideoReceiver) -> Shown | None:
        """A receiver ended (the session's ``video-ended``): what changes on screen."""
        key = self.key_of(receiver)
        if key is None:
            return None
        paths = self._paths[key]
        paths.remove(receiver)
        if self._shown[key] is not receiver:
            return None  # an older path closing, or a newer one that never took over
        if not paths:
            del self._paths[key], self._shown[key]
            return Shown(key, None)
        with_pictures = [r for r in paths if r.slot.latest() is not None]
        self._shown[key] = (with_pictures or paths)[-1]
        return Shown(key, self._shown[key])


def one_per_source(receivers: Iterable[VideoReceiver]) -> list[VideoReceiver]:
    """One receiver of each of ``receivers``' sources (given oldest first), for whoever
    reports on sources (link health): of the paths that bring a source at once, the
    oldest that has pictures (the path that has carried it so far, measured over
    seconds), else the first."""
    sources = ReceivedSources()
    for receiver in receivers:
        sources.add(receiver)
    chosen = []
    for _, paths in sources.entries():
        with_pictures = [r for r in paths if r.slot.latest() is not None]
        chosen.append((with_pictures or paths)[0])
    return chosen
