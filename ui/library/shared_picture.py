"""The shared pictures of a recorded case in the player: shown during their stretches.

While a picture was shared in the session (:attr:`Timeline.shares`), the room looked at
it instead of the video, so the player does too: :class:`RecordedPictures` puts the
picture in a :class:`~ui.common.shared_picture_view.SharedPictureView` (pan and zoom as
live) with the marks drawn on it as they were at the playhead, painted by the same
:func:`paint_marks` as live. Outside the stretches, and for a picture that cannot be
read (a copy of the case without it), the video shows as it was. The picture is read
and decoded off the GUI thread, once per picture.
"""

from __future__ import annotations

import contextlib
import logging
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from PyQt6 import sip
from PyQt6.QtCore import QObject, QRectF, pyqtSignal
from PyQt6.QtGui import QPainter

from surgery_teach.casebook.problems import SHARED_PICTURE_UNREADABLE, Problem
from surgery_teach.casebook.shared_pictures import SharedStretch, read_shared_picture
from surgery_teach.casebook.timeline import Timeline
from surgery_teach.errors import SurgeryTeachError
from ui.common.marks import paint_marks
from ui.common.shared_picture_view import SharedPictureView
from ui.i18n import problem_text, tr

logger = logging.getLogger("ui.library.player")

#: Pictures kept decoded (a shared picture may be 8192 pixels a side: 200 MB).
KEPT_PICTURES = 3


class RecordedPictures(QObject):
    """Which shared picture the player shows at the playhead (``position()``), if any.

    ``view`` shows it; :meth:`show_at` says whether it covers the video now.
    ``on_problem(text)`` gets a translated sentence when a picture cannot be shown.
    """

    _loaded = pyqtSignal(str, object)  # share id, pixels (from the reading thread)
    _failed = pyqtSignal(str, str)  # share id, what is wrong (translated)
    changed = pyqtSignal()  # a picture finished loading: show_at may answer otherwise

    def __init__(self, folder: Path, timeline: Timeline, position: Callable[[], float], *,
                 on_problem: Callable[[str], None] | None = None) -> None:
        super().__init__()
        self.folder = folder
        self.timeline = timeline
        self.marks_visible = True
        self.view = SharedPictureView()
        self.view.overlays.append(self._paint_marks)
        self.shown: SharedStretch | None = None  # on the view now
        self._painted_at = -1.0  # playhead the marks were last painted for
        self._position = position
        self._on_problem = on_problem
        self._pixels: OrderedDict[str, np.ndarray] = OrderedDict()  # share id -> picture
        self._reading: set[str] = set()
        self._broken: set[str] = set()  # cannot be shown: the video plays instead
        self._reader = ThreadPoolExecutor(1, thread_name_prefix="shared picture")
        self._loaded.connect(self._on_loaded)
        self._failed.connect(self._on_failed)

    def show_at(self, t: float) -> bool:
        """Show the picture shared at case time ``t``; ``True`` if it covers the video
        (``False`` outside the stretches, and while the picture is still being read)."""
        stretch = self.timeline.shared_at(t)
        if stretch is None or stretch.share_id in self._broken:
            return False
        pixels = self._pixels.get(stretch.share_id)
        if pixels is None:
            self._read(stretch)
            return False
        self._pixels.move_to_end(stretch.share_id)
        if self.shown is None or self.shown.share_id != stretch.share_id:
            self.shown = stretch
            self.view.show_picture(pixels, source_name=stretch.source,
                                   label=_label(stretch))
        if t != self._painted_at:
            self._painted_at = t
            self.view.update()  # the marks fade and change with the playhead
        return True

    def set_marks_visible(self, visible: bool) -> None:
        self.marks_visible = visible
        self.view.update()

    def close(self) -> None:
        self._reader.shutdown(wait=False, cancel_futures=True)

    # -- reading ---------------------------------------------------------------------------

    def _read(self, stretch: SharedStretch) -> None:
        if stretch.share_id in self._reading:
            return
        self._reading.add(stretch.share_id)

        def read() -> None:
            try:
                pixels = read_shared_picture(self.folder, stretch)
            except SurgeryTeachError as exc:
                logger.warning("player: %s", exc)
                self._emit(self._failed, stretch.share_id, problem_text(exc.args[0]))
                return
            except Exception as exc:  # (out of memory, a codec's own error): said, not raised
                logger.exception("player: the shared picture %s", stretch.file)
                self._emit(self._failed, stretch.share_id, problem_text(Problem(
                    SHARED_PICTURE_UNREADABLE, file=stretch.file, reason=exc)))
                return
            self._emit(self._loaded, stretch.share_id, pixels)

        self._reader.submit(read)

    def _emit(self, signal: pyqtSignal, *args: object) -> None:
        if not sip.isdeleted(self):
            with contextlib.suppress(RuntimeError):  # the player closed meanwhile
                signal.emit(*args)  # type: ignore[attr-defined]  # queued to the GUI thread

    def _on_loaded(self, share_id: str, pixels: np.ndarray) -> None:
        self._reading.discard(share_id)
        self._pixels[share_id] = pixels
        while len(self._pixels) > KEPT_PICTURES:  # the least recently shown goes
            self._pixels.popitem(last=False)
        self.changed.emit()

    def _on_failed(self, share_id: str, reason: str) -> None:
        self._reading.discard(share_id)
        self._broken.add(share_id)
        if self._on_problem is not None:
            self._on_problem(reason)
        self.changed.emit()

    # -- painting --------------------------------------------------------------------------

    def _paint_marks(self, painter: QPainter, rect: QRectF) -> None:
        if not self.marks_visible or self.shown is None:
            return
        marks = self.timeline.marks_at(self._position(), self.shown.source)
        paint_marks(painter, rect, marks, self.timeline.authors)


def _label(stretch: SharedStretch) -> str:
    """What the view says about the picture: who shared it, and its title."""
    if stretch.by and stretch.title:
        return tr("{name} shares a picture: {title}", name=stretch.by, title=stretch.title)
    if stretch.by:
        return tr("{name} shares a picture", name=stretch.by)
    return stretch.title
