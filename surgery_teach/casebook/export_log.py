"""Who exported what: one JSON line per clip written, on the computer that wrote it.

A clip leaves the case's protection (an encrypted case's clip is a plain MP4), so each
export is noted in ``exports.jsonl`` in the client's data folder: when, which case and
source, which stretch, where the file went, whether it came from an encrypted case, and
the computer's user. Nothing of the picture, chat or marks; a failure to write the line is
logged, never raised (the clip is written already).
"""

from __future__ import annotations

import datetime as dt
import getpass
import json
import logging
import os
from pathlib import Path

from surgery_teach.settings import data_dir

logger = logging.getLogger(__name__)

LOG_FILE = "exports.jsonl"


def note_export(*, case_folder: Path, source: str, start: float, end: float, out_path: Path,
                from_encrypted: bool, log_dir: Path | None = None) -> None:
    """Append the export of ``source`` (case seconds ``start``..``end``) to the log."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = ""
    line = json.dumps({
        "time": dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00",
                                                                                   "Z"),
        "event": "export", "case": case_folder.name, "source": source,
        "start": round(start, 3), "end": round(end, 3), "file": str(out_path),
        "from_encrypted": from_encrypted, "user": user,
    }, ensure_ascii=False)
    folder = log_dir or data_dir()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(folder / LOG_FILE, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        with os.fdopen(descriptor, "a", encoding="utf-8") as log:
            log.write(line + "\n")
    except OSError as exc:
        logger.error("the export of %s was not noted in %s: %s", out_path, folder / LOG_FILE,
                     exc)
