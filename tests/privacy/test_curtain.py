"""The privacy curtain: closes and opens once, says who and when, tells every listener
even when one of them fails, and types on stdin map to it."""

from __future__ import annotations

import itertools
import threading
import time

from surgery_teach.privacy import CurtainState, PrivacyCurtain
from surgery_teach.privacy.console import CurtainCommand, curtain_command, describe, run_command


def test_close_and_open_tell_listeners_once_with_who_and_when() -> None:
    curtain = PrivacyCurtain()
    heard: list[CurtainState] = []
    curtain.on_change(heard.append)
    before = time.time()
    assert curtain.close(by=" Dr Wang ")
    assert not curtain.close(by="Dr Wang")  # already closed: nothing to say
    assert curtain.closed and curtain.state.by == "Dr Wang"
    assert curtain.open()
    assert [s.closed for s in heard] == [True, False]
    assert heard[0].since >= before
    curtain.off_change(heard.append)
    curtain.close()
    assert len(heard) == 2


def test_a_failing_listener_does_not_stop_the_others() -> None:
    curtain = PrivacyCurtain()
    heard: list[bool] = []

    def broken(state: CurtainState) -> None:
        raise RuntimeError("boom")

    curtain.on_change(broken)
    curtain.on_change(lambda state: heard.append(state.closed))
    curtain.close()
    assert heard == [True]


def test_toggles_from_many_threads_are_heard_in_the_order_they_happened() -> None:
    curtain = PrivacyCurtain()
    changes: list[bool] = []
    curtain.on_change(lambda state: changes.append(state.closed))
    threads = [threading.Thread(target=lambda: [curtain.toggle("x") for _ in range(200)])
               for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # every change flips the state: never two closes (or opens) in a row
    assert all(a != b for a, b in itertools.pairwise(changes))
    assert curtain.closed == (changes[-1] if changes else False)


def test_typed_commands() -> None:
    assert curtain_command("p\n") is CurtainCommand.TOGGLE
    assert curtain_command(" PRIVACY ") is CurtainCommand.TOGGLE
    assert curtain_command("pause") is CurtainCommand.CLOSE
    assert curtain_command("resume") is CurtainCommand.OPEN
    assert curtain_command("hello") is None
    curtain = PrivacyCurtain()
    assert run_command(curtain, CurtainCommand.TOGGLE, "Dr Wang").closed
    assert run_command(curtain, CurtainCommand.CLOSE, "Dr Wang").closed
    assert "paused by Dr Wang" in describe(curtain.state)
    assert not run_command(curtain, CurtainCommand.OPEN, "Dr Wang").closed
    assert "resumed" in describe(curtain.state)
