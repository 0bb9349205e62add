"""Qt tests with the real asyncio loop the app uses (qasync), offscreen by default."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, TypeVar

import pytest
import qasync
from PyQt6.QtWidgets import QApplication

from ui.common.gui_gc import GuiGarbageCollector
from ui.theme import apply_theme

T = TypeVar("T")


@pytest.fixture
def run(qapp: QApplication) -> Iterator[Callable[[Awaitable[T]], T]]:
    """``run(coro)`` runs a coroutine on a qasync loop inside Qt, as the app does."""
    apply_theme(qapp)
    qapp.setQuitOnLastWindowClosed(False)  # as the app does: closing a window ends no loop
    loop = qasync.QEventLoop(qapp, already_running=False)
    asyncio.set_event_loop(loop)
    collector = GuiGarbageCollector()  # as the app does: Qt objects die on this thread

    def _run(coro: Awaitable[Any]) -> Any:
        result = loop.run_until_complete(coro)
        # steps scheduled just before it returned (a task a signal started) run now, with
        # the loop running: Qt could otherwise run them outside it when a test sends events
        loop.run_until_complete(asyncio.sleep(0))
        return result

    try:
        yield _run
    finally:
        pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
        for task in pending:
            task.cancel()
        if pending:
            loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        loop.close()
        asyncio.set_event_loop(None)
        collector.stop()


async def until(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)
