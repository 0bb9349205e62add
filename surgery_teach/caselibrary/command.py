"""``python -m surgery_teach publish-case DIR --library https://... --token ...``.

Publishes one finished case folder to the hospital library with a progress line, and
resumes by itself after a dropped link; run it again after a failure to resume from what
the library already holds. The token comes from ``--token``, ``--token-file`` or
``SURGERY_TEACH_LIBRARY_TOKEN`` (a mentor's library token: ``python -m library_server
token --role mentor ...``). An encrypted case is decrypted as it is sent (over TLS); its
hospital passphrase comes from ``--case-passphrase-file`` or
``SURGERY_TEACH_CASE_PASSPHRASE``, or its key from this computer's keyring.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any, TextIO

from surgery_teach.casefile.keys import PASSPHRASE_ENV
from surgery_teach.caselibrary.connection import LibraryConnection, client_tls
from surgery_teach.caselibrary.publish import Phase, PublishProgress, publish_case
from surgery_teach.errors import CaseLockedError, ConfigError

COMMAND = "publish-case"
TOKEN_VARIABLE = "SURGERY_TEACH_LIBRARY_TOKEN"


def add_publish_case_parser(commands: Any) -> None:
    """Add ``publish-case`` to the CLI's sub-commands."""
    sub = commands.add_parser(COMMAND, help="publish a recorded case to the hospital library")
    sub.add_argument("folder", type=Path, metavar="DIR", help="the case folder")
    sub.add_argument("--library", required=True, metavar="URL",
                     help="the library's address, e.g. https://library.hospital.cn:8443")
    sub.add_argument("--token", default="", help=f"your mentor library token (or "
                     f"--token-file, or ${TOKEN_VARIABLE})")
    sub.add_argument("--token-file", type=Path, metavar="FILE", help="file holding the token")
    sub.add_argument("--ca-file", default="", metavar="FILE",
                     help="PEM certificate of the CA that signed the library's certificate, "
                          "when this computer does not trust it already")
    sub.add_argument("--collection", action="append", default=[], metavar="NAME",
                     help="hospital:NAME, course:NAME or everyone (repeatable; default: the "
                          "token's collections)")
    sub.add_argument("--procedure", default="",
                     help="the procedure, for search (default: the case's title)")
    sub.add_argument("--give-up-after", type=float, default=300.0, metavar="SECONDS",
                     help="keep trying this long while the library cannot be reached "
                          "(default 300)")
    sub.add_argument("--case-passphrase-file", type=Path, metavar="FILE",
                     help="the hospital passphrase of an encrypted case, in FILE (or "
                          f"${PASSPHRASE_ENV}); not needed when this computer's keyring "
                          "holds the case's key")
    sub.add_argument("--quiet", action="store_true", help="no progress line")


def _token(args: argparse.Namespace) -> str:
    if args.token:
        return str(args.token).strip()
    if args.token_file is not None:
        try:
            return args.token_file.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(f"cannot read the token file {args.token_file}: "
                              f"{exc.strerror or exc}") from exc
    token = os.environ.get(TOKEN_VARIABLE, "").strip()
    if not token:
        raise ConfigError(f"no library token: give --token, --token-file or set "
                          f"{TOKEN_VARIABLE} (ask the library's administrator for a mentor "
                          "token)")
    return token


def _passphrase(args: argparse.Namespace) -> str | None:
    path = getattr(args, "case_passphrase_file", None)
    if path is None:
        return None
    try:
        return str(path.read_text(encoding="utf-8")).strip() or None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read the passphrase file {path}: {exc}; give a readable "
                          "text file") from exc


class _ProgressLine:
    """One line rewritten in place on a terminal, a line every few seconds otherwise."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.tty = out.isatty()
        self.last = 0.0
        self.started = time.monotonic()
        self.phase: Phase | None = None

    def __call__(self, p: PublishProgress) -> None:
        now = time.monotonic()
        if p.phase is self.phase and now - self.last < (0.2 if self.tty else 5.0) and (
                p.done < p.total):
            return
        if p.phase is not self.phase and p.phase is Phase.SENDING:
            self.started = now
        self.phase, self.last = p.phase, now
        share = 100 * p.done / p.total if p.total else 100
        text = f"{p.phase.value}: {share:5.1f}% of {p.total / 1e6:.1f} MB"
        if p.phase is Phase.SENDING and p.file:
            text += f" ({p.file})"
        if p.phase is Phase.WAITING:
            text += f" - {p.note}; trying again"
        if self.tty:
            self.out.write(f"\r{text[:120]:<120}")
        else:
            self.out.write(text + "\n")
        self.out.flush()

    def end(self) -> None:
        if self.tty and self.phase is not None:
            self.out.write("\n")


def run_publish_case(args: argparse.Namespace) -> int:
    """Publish ``args.folder``; 0 when the library holds it. Errors raise (the CLI prints
    them as one line and exits 2)."""
    token = _token(args)
    passphrase = _passphrase(args)
    tls = client_tls(args.ca_file or None)
    progress = None if args.quiet else _ProgressLine(sys.stderr)
    with LibraryConnection(args.library, token, tls=tls) as connection:
        try:
            result = publish_case(args.folder, connection, collections=args.collection,
                                  procedure=args.procedure, progress=progress,
                                  give_up_after=args.give_up_after, passphrase=passphrase)
        except CaseLockedError as exc:
            fix = (f"give its passphrase with --case-passphrase-file FILE (or "
                   f"${PASSPHRASE_ENV})" if exc.passphrase else
                   "publish it from the computer whose keyring holds its key")
            raise ConfigError(f"{exc} To publish it, {fix}.") from exc
        finally:
            if progress is not None:
                progress.end()
    case = result.case
    if result.pictures_added:
        print(f'"{case.title}" is already in the library as case {case.id}; '
              f"{result.pictures_added} picture(s) shared during it that it lacked were added")
    if result.chapters_updated:
        print(f'"{case.title}" is already in the library as case {case.id}; its chapters '
              "there are now the ones edited here")
    elif result.pictures_added:
        pass
    elif result.already_stored:
        print(f'"{case.title}" is already in the library as case {case.id}; nothing was sent')
    else:
        rate = result.sent / result.seconds / 1e6 if result.seconds else 0.0
        resumed = f", resumed {result.resumed} times" if result.resumed else ""
        print(f'published "{case.title}" as case {case.id} to {", ".join(case.collections)} '
              f"({result.sent / 1e6:.1f} MB sent in {result.seconds:.1f} s, "
              f"{rate:.0f} MB/s{resumed})")
    return 0
