"""Curtain commands typed on a headless publisher's standard input.

``p`` or ``privacy`` (then Enter) toggles the privacy curtain; ``pause`` closes it and
``resume`` opens it whatever it was. Pure: the CLI reads the lines and acts.
"""

from __future__ import annotations

from enum import StrEnum

from surgery_teach.privacy.curtain import CurtainState, PrivacyCurtain

HELP = ("privacy: type p (or privacy) and Enter to pause or resume the video for privacy, "
        "pause or resume to set it; or send SIGUSR1 to toggle")


class CurtainCommand(StrEnum):
    TOGGLE = "toggle"
    CLOSE = "close"
    OPEN = "open"


_WORDS = {
    "p": CurtainCommand.TOGGLE, "privacy": CurtainCommand.TOGGLE,
    "pause": CurtainCommand.CLOSE, "resume": CurtainCommand.OPEN,
}


def curtain_command(line: str) -> CurtainCommand | None:
    """The command a typed line means, or ``None`` (not a curtain command)."""
    return _WORDS.get(line.strip().lower())


def run_command(curtain: PrivacyCurtain, command: CurtainCommand, by: str) -> CurtainState:
    """Carry out ``command`` on ``curtain`` in ``by``'s name; the state after it."""
    if command is CurtainCommand.TOGGLE:
        return curtain.toggle(by)
    if command is CurtainCommand.CLOSE:
        curtain.close(by)
    else:
        curtain.open(by)
    return curtain.state


def describe(state: CurtainState) -> str:
    """One line for the console: what the curtain now does."""
    who = f" by {state.by}" if state.by else ""
    if state.closed:
        return f"privacy: video paused{who}; every source sends the privacy card"
    return f"privacy: video resumed{who}"
