"""A file that cannot be shared, or a shared picture that cannot be shown, in the user's
language: one sentence per kind of problem (:mod:`surgery_teach.errors`' share errors),
naming the file and the fix. In another language than English the core's detail goes to a
tooltip and the log."""

from __future__ import annotations

from pathlib import Path

from surgery_teach.errors import (
    CorruptShareError,
    EncryptedShareError,
    ShareError,
    ShareTooLargeError,
    ShareTransferError,
    UnsupportedShareError,
)
from surgery_teach.rtc.shares import NO_RIGHT
from ui.i18n import language, tr


def share_problem(exc: ShareError) -> str:
    """What to tell the user about ``exc``: in English the core's own sentence about a
    file (it is the most specific: "save it as PDF"), otherwise one sentence per kind. A
    password problem is always said here: the sharer acts on it in the dialog."""
    name = Path(exc.path).name if exc.path else tr("The file")
    if isinstance(exc, EncryptedShareError):
        return password_problem(exc, name)
    if language() == "en" and exc.path and not isinstance(exc, ShareTransferError):
        return str(exc)
    if isinstance(exc, ShareTooLargeError):
        return tr("{name} is {size} MB, more than the {limit} MB a shared file may be. Share a "
                  "single image, page or DICOM slice instead. Nothing was sent.",
                  name=name, size=f"{exc.size / 1e6:.1f}", limit=f"{exc.limit / 1e6:.0f}")
    if isinstance(exc, CorruptShareError):
        return tr("{name} is damaged or incomplete. Open it in its own program to check it, "
                  "or export it again. Nothing was sent.", name=name)
    if isinstance(exc, UnsupportedShareError):
        return tr("{name} cannot be shown here: share a PNG, JPEG or TIFF picture, a PDF or "
                  "a DICOM image (export it as one of these). Nothing was sent.", name=name)
    if isinstance(exc, ShareTransferError):
        return tr("A shared picture arrived damaged. Ask the sharer to share it again.")
    return tr("The shared picture could not be shown: ask the sharer to share it again.")


def password_problem(exc: EncryptedShareError, name: str) -> str:
    """A protected document: it needs its password, the password given is wrong, or no
    password can open it here."""
    if not exc.password_helps:
        return tr("{name} is protected in a way this program cannot open (a certificate or "
                  "an unknown encryption). Ask the sender for an unprotected copy. Nothing "
                  "was sent.", name=name)
    if exc.password_given:
        return tr("This password does not open {name}. Check it (capital letters, the "
                  "keyboard's language) and type it again. Nothing was sent.", name=name)
    return tr("{name} is protected by a password: type the document's password and press "
              "Open. Nothing was sent.", name=name)


def stopped_text(reason: str) -> str:
    """Why our share stopped, or did not start (``share-stopped``'s reason)."""
    if reason == NO_RIGHT:
        return tr("A mentor stopped your drawing, so you can no longer share a picture: "
                  "nobody sees yours now. Ask a mentor to let you draw again to share one.")
    return tr("Your picture is no longer shared.")
