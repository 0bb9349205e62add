"""What can be wrong with a recorded case, said so that any interface can translate it.

A :class:`Problem` is the plain English sentence (it *is* a ``str``, so logs, tests and
older callers read it as before) and also keeps the template it was made from and the
values that filled it; a UI looks the template up in its catalogue and fills in the same
values. Every template is in :data:`TEMPLATES`, which a test checks against the UI's
catalogues.
"""

from __future__ import annotations

from typing import Any, Final

INTERRUPTED: Final = "recording was interrupted; plays up to {time}"
STOPPED_EARLY: Final = "recording stopped early ({reason}); plays up to {time}"
BEING_RECORDED: Final = "being recorded now"
EVENTS_TRUNCATED: Final = (
    "events log truncated: its last line was cut off (chat and marks before it show)"
)
EVENTS_DAMAGED: Final = "events log damaged: {count} unreadable line(s) skipped"
MANIFEST_REBUILT: Final = (
    "manifest missing or unreadable; the case was rebuilt from its media files"
)
VIDEO_ENDS_EARLY: Final = "{source}: the video ends at {end}, before the recording's end ({time})"
NO_PICTURE: Final = "{source}: no picture was recorded (the source sent none)"
VIDEO_MISSING: Final = "{source}: {file} is missing"
VIDEO_DAMAGED: Final = "{source}: {file} is damaged and cannot be played"
NO_SOUND: Final = "Audio: no sound was recorded"
AUDIO_MISSING: Final = "Audio: {file} is missing"
AUDIO_EMPTY: Final = "Audio: {file} holds no audio"
AUDIO_DAMAGED: Final = "Audio: {file} is damaged and cannot be played"
CHUNKS_TAMPERED: Final = (
    "{file}: {count} encrypted block(s) were changed on disk since the recording and are "
    "skipped; the rest plays"
)
LOCKED: Final = "encrypted: enter the hospital passphrase (or use the computer it was recorded on)"
FILE_CUT: Final = "{file} was cut short after the recording ended (its encrypted end is missing)"
SHARED_PICTURE_MISSING: Final = (
    "{file}: a picture shared during the case is not in its folder (a copy made without "
    "it?); the video plays in its place"
)
SHARED_PICTURE_CHANGED: Final = (
    "{file}: a picture shared during the case was changed or damaged since it was "
    "recorded; the video plays in its place"
)
SHARED_PICTURE_UNREADABLE: Final = (
    "{file}: a picture shared during the case cannot be read ({reason}); the video plays "
    "in its place"
)

TEMPLATES: Final = (
    INTERRUPTED, STOPPED_EARLY, BEING_RECORDED, EVENTS_TRUNCATED, EVENTS_DAMAGED,
    MANIFEST_REBUILT, VIDEO_ENDS_EARLY, NO_PICTURE, VIDEO_MISSING, VIDEO_DAMAGED, NO_SOUND,
    AUDIO_MISSING, AUDIO_EMPTY, AUDIO_DAMAGED, CHUNKS_TAMPERED, FILE_CUT, LOCKED,
    SHARED_PICTURE_MISSING, SHARED_PICTURE_CHANGED, SHARED_PICTURE_UNREADABLE,
)


class Problem(str):
    """``template`` filled with ``values``; the string itself is the English sentence."""

    template: str
    values: dict[str, str]

    def __new__(cls, template: str, **values: object) -> Problem:
        texts = {name: str(value) for name, value in values.items()}
        problem = super().__new__(cls, template.format(**texts))
        problem.template = template
        problem.values = texts
        return problem

    def __reduce__(self) -> tuple[Any, ...]:  # copies and pickles keep the template
        return (_rebuild, (self.template, self.values))


def _rebuild(template: str, values: dict[str, str]) -> Problem:
    return Problem(template, **values)


def problem_to_json(problem: str) -> str | dict[str, Any]:
    """A problem for a JSON cache: its template and values, or a plain sentence."""
    if isinstance(problem, Problem):
        return {"template": problem.template, "values": problem.values}
    return str(problem)


def problem_from_json(data: object) -> str:
    """Back from :func:`problem_to_json`; a template this version doesn't know, or a
    malformed entry, comes back as plain text."""
    if isinstance(data, dict):
        template, values = data.get("template"), data.get("values")
        if isinstance(template, str) and isinstance(values, dict):
            try:
                return Problem(template, **{str(k): v for k, v in values.items()})
            except (KeyError, IndexError, ValueError):
                return template
    return str(data)
