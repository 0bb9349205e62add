"""An asyncio event loop on a thread of its own, for the media path of a desktop client.

In the desktop client the GUI thread paints and handles input; if aiortc's RTP, SRTP and
jitter-buffer work shared that thread, every paint would delay packets and every burst
of packets would delay paints. :class:`LoopThread` gives a live session its own loop.
Other threads talk to it only through thread-safe hand-offs: :meth:`submit` and
:meth:`run` (a coroutine, with its result or exception back), :meth:`call` (a plain call,
in order). :meth:`stop` ends it the way ``asyncio.run`` ends a loop: remaining tasks
cancelled and awaited, async generators and the default executor shut down, the loop
closed and the thread joined.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from surgery_teach.errors import LoopStoppedError

logger = logging.getLogger(__name__)

T = TypeVar("T")


class LoopThread:
    """One asyncio event loop running in one daemon thread, started by :meth:`start`."""

    def __init__(self, name: str = "media") -> None:
        self.name = name
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._started = threading.Event()
        self._lock = threading.Lock()  # start/stop against hand-offs
        self._stopping = False

    # -- life -------------------------------------------------------------------------------

    def start(self) -> None:
        """Start the thread and wait until its loop runs (no-op if it already does)."""
        with self._lock:
            if self._thread is not None:
                return
            self._stopping = False
            self._started.clear()
            self._thread = threading.Thread(target=self._main, name=self.name, daemon=True)
            self._thread.start()
        self._started.wait()

    @property
    def running(self) -> bool:
        """True between :meth:`start` and :meth:`stop`: hand-offs are accepted."""
        loop = self._loop
        return loop is not None and not self._stopping and loop.is_running()

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The loop (only to pass to APIs that need it; run work through the hand-offs)."""
        if self._loop is None:
            raise LoopStoppedError(f"the {self.name} loop thread is not running")
        return self._loop

    def in_thread(self) -> bool:
        """Whether the caller runs on this loop's thread."""
        return self._thread is not None and threading.current_thread() is self._thread

    def stop(self, timeout: float = 10.0) -> bool:
        """Stop the loop, cancel what still runs on it, close it and join the thread.

        Returns False if the thread did not finish within ``timeout`` seconds (a task that
        ignores cancellation; it is logged). Call from any thread but the loop's own.
        """
        if self.in_thread():
            raise RuntimeError("LoopThread.stop() called from its own loop; it would deadlock")
        with self._lock:
            thread, loop = self._thread, self._loop
            if thread is None or loop is None:
                return True
            self._stopping = True
        try:
            loop.call_soon_threadsafe(loop.stop)
        except RuntimeError:  # closed already
            pass
        thread.join(timeout)
        if thread.is_alive():
            logger.error("the %s loop thread did not stop within %.0f s", self.name, timeout)
            return False
        with self._lock:
            self._thread = None
        return True

    def _main(self) -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        self._loop = loop
        loop.call_soon(self._started.set)
        try:
            loop.run_forever()
        finally:
            try:
                for _ in range(5):  # work handed over while stopping may start more tasks
                    if not _cancel_all(loop):
                        break
                loop.run_until_complete(loop.shutdown_asyncgens())
                loop.run_until_complete(loop.shutdown_default_executor())
            finally:
                asyncio.set_event_loop(None)
                self._loop = None
                loop.close()

    # -- hand-offs --------------------------------------------------------------------------

    def submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        """Run ``coro`` on the loop; the future carries its result or exception (any thread)."""
        loop = self._accepting(coro)
        return asyncio.run_coroutine_threadsafe(coro, loop)

    async def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run ``coro`` on the loop and await it from another event loop.

        Cancelling the awaiting task cancels ``coro`` too.
        """
        return await asyncio.wrap_future(self.submit(coro))

    def call(self, function: Callable[..., object], *args: object) -> None:
        """Call ``function(*args)`` on the loop soon, after the calls handed over before."""
        self._accepting(None).call_soon_threadsafe(function, *args)

    def _accepting(self, coro: Coroutine[Any, Any, Any] | None) -> asyncio.AbstractEventLoop:
        loop = self._loop
        if loop is None or self._stopping or loop.is_closed():
            if coro is not None:
                coro.close()  # never awaited: no "was never awaited" warning
            raise LoopStoppedError(f"the {self.name} loop thread is not running")
        return loop


def _cancel_all(loop: asyncio.AbstractEventLoop) -> bool:
    """What ``asyncio.run`` does on the way out: cancel the tasks left and let them finish.

    Returns False if there were none."""
    tasks = [task for task in asyncio.all_tasks(loop) if not task.done()]
    if not tasks:
        return False
    for task in tasks:
        task.cancel()
    loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
    for task in tasks:
        if not task.cancelled() and task.exception() is not None:
            loop.call_exception_handler({
                "message": "unhandled exception in a task cancelled at loop shutdown",
                "exception": task.exception(),
                "task": task,
            })
    return True
