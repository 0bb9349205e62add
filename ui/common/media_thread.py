"""The GUI end of the media thread: calls from the media loop's thread into the GUI thread.

The session runs on its own :class:`~surgery_teach.rtc.loop_thread.LoopThread` (Qt-free).
The way back is :class:`GuiCalls`: the media thread hands it functions, which run on the
GUI thread in the order they were handed over, through Qt's queued connections. A
controller updates what the window reads and emits its signals from there, so widgets
only ever see their state change on their own thread.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable

from PyQt6.QtCore import QCoreApplication, QObject, Qt, pyqtSignal, pyqtSlot

logger = logging.getLogger(__name__)


class GuiCalls(QObject):
    """Runs functions on the GUI thread, in order, whichever thread hands them over."""

    _call = pyqtSignal(object)

    def __init__(self) -> None:
        super().__init__()
        app = QCoreApplication.instance()
        if app is not None and self.thread() is not app.thread():
            self.moveToThread(app.thread())  # made on another thread: push it to the GUI's
        # queued even from the GUI thread itself, so every call keeps its place in line
        self._call.connect(self._run, Qt.ConnectionType.QueuedConnection)

    def post(self, function: Callable[..., object], *args: object) -> None:
        """Call ``function(*args)`` on the GUI thread after everything posted before."""
        self._call.emit(functools.partial(function, *args))

    async def drain(self) -> None:
        """Return (on the GUI thread's asyncio loop) once every call posted so far has run."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.post(lambda: done.done() or done.set_result(None))
        await done

    @pyqtSlot(object)
    def _run(self, call: Callable[[], object]) -> None:
        try:
            call()
        except Exception:  # a broken handler must not take the window down
            logger.exception("a call from the media thread failed")
