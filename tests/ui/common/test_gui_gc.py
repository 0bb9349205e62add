"""Cycles holding Qt objects are collected on the GUI thread, never on a worker's."""

from __future__ import annotations

import gc
import threading
from collections.abc import Callable
from typing import Any

from PyQt6.QtCore import QObject

from tests.timing import seconds
from tests.ui.conftest import until
from ui.common.gui_gc import GuiGarbageCollector

Run = Callable[[Any], Any]


class Held:
    """Part of a cycle with a Qt object; says on which thread it was collected."""

    def __init__(self, seen: list[str]) -> None:
        self.seen = seen
        self.qobject = QObject()
        self.me = self  # the cycle

    def __del__(self) -> None:
        self.seen.append(threading.current_thread().name)


def drop_a_cycle(seen: list[str]) -> None:
    Held(seen)


def allocate_cycles_on_a_worker() -> None:
    """What a decoding or ``to_thread`` worker does: allocate (cycles among them),
    enough to cross the youngest generation's threshold many times."""
    def work() -> None:
        for _ in range(20 * gc.get_threshold()[0]):
            box: list[object] = []
            box.append(box)

    worker = threading.Thread(target=work, name="worker")
    worker.start()
    worker.join()


def test_without_it_a_worker_thread_can_collect_a_cycle_holding_qt(qapp: Any) -> None:
    seen: list[str] = []
    gc.collect()
    assert gc.isenabled()
    drop_a_cycle(seen)
    allocate_cycles_on_a_worker()
    assert seen == ["worker"]  # the hazard the collector removes


def test_with_it_cycles_holding_qt_are_collected_on_the_gui_thread(run: Run) -> None:
    """The ``run`` fixture collects as the app does (:func:`ui.app.main`)."""
    seen: list[str] = []
    assert not gc.isenabled()
    drop_a_cycle(seen)
    allocate_cycles_on_a_worker()
    assert seen == []
    run(until(lambda: bool(seen), seconds(5), "a collection on the GUI thread"))
    assert seen == [threading.current_thread().name]


def test_stopping_it_collects_and_gives_collection_back_to_python(qapp: Any) -> None:
    seen: list[str] = []
    collector = GuiGarbageCollector()
    drop_a_cycle(seen)
    collector.stop()
    assert seen == [threading.current_thread().name]
    assert gc.isenabled()
